//! Reading `application/x-www-form-urlencoded` request bodies strictly.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use percent_encoding::percent_decode;

use crate::oauth_error::OAuthError;

/// The largest request body the OAuth endpoints read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Decoded form parameters in request order.
#[derive(Debug, Default)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter \"{name}\"")))
    }
}

/// Reads and parses the body.
///
/// The body must be form-encoded, at most [`MAX_BODY_BYTES`] long (checked
/// before it is read whole), and decode to UTF-8. Empty parameters count as
/// omitted and a repeated parameter is an error (RFC 6749 §3.1).
pub async fn read(
    request: &HttpRequest,
    mut payload: web::Payload,
) -> Result<FormParams, OAuthError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }

    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(OAuthError::payload_too_large(MAX_BODY_BYTES));
    }

    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            OAuthError::invalid_request(format!("the request body could not be read: {error}"))
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(OAuthError::payload_too_large(MAX_BODY_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body)
}

/// Parses a form body; see [`read`] for the rules.
pub fn parse(body: &[u8]) -> Result<FormParams, OAuthError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in body.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(index) => (&pair[..index], &pair[index + 1..]),
            None => (pair, &[][..]),
        };
        let name = decode(raw_name)
            .ok_or_else(|| OAuthError::invalid_request("a parameter name is not valid UTF-8"))?;
        let value = decode(raw_value).ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "the value of parameter \"{}\" is not valid UTF-8",
                name.escape_debug()
            ))
        })?;
        if value.is_empty() {
            continue;
        }
        if params.iter().any(|(known, _)| *known == name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter \"{}\" was sent more than once",
                name.escape_debug()
            )));
        }
        params.push((name, value));
    }
    Ok(FormParams(params))
}

/// Decodes one form-encoded component: `+` is a space, then `%XX` escapes.
pub fn decode(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_decodes_and_skips_empty() {
        let params = parse(b"grant_type=password&username=a+b&scope=&password=%C3%A9").unwrap();
        assert_eq!(params.get("username"), Some("a b"));
        assert_eq!(params.get("password"), Some("é"));
        assert_eq!(params.get("scope"), None);
    }

    #[test]
    fn parse_rejects_duplicates() {
        assert!(parse(b"a=1&a=2").is_err());
    }

    #[test]
    fn parse_rejects_invalid_utf8() {
        assert!(parse(b"a=%FF").is_err());
        assert!(parse(b"a=\xff").is_err());
    }
}
