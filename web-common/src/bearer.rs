//! Bearer token extraction and challenges (RFC 6750).

use actix_web::HttpRequest;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};

/// The failure to read a Bearer credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization: Bearer` header. RFC 6750 §3.1 prescribes a 401
    /// without an error code for it.
    Missing,
    /// A Bearer header that breaks the syntax of RFC 6750 §2.1:
    /// `invalid_request`, 400.
    Malformed(&'static str),
}

/// Reads the token of an `Authorization: Bearer TOKEN` header.
///
/// The scheme name is case-insensitive (RFC 7235 §2.1) and the token must be
/// token68: letters, digits and `-._~+/`, followed by optional `=` padding.
pub fn extract(request: &HttpRequest) -> Result<String, BearerError> {
    // RFC 6750 §2.2 and §2.3 also allow the token in a form body or the
    // query. Neither is supported here, because URLs end up in logs, and a
    // request that uses them is rejected rather than half-read, so that a
    // token sent two ways is never accepted (§3.1, invalid_request).
    let in_query = form_has_key(request.query_string(), "access_token");
    if in_query {
        return Err(BearerError::Malformed(
            "send the access token in the Authorization header, not in the query",
        ));
    }
    let form_body = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if form_body {
        return Err(BearerError::Malformed(
            "form-encoded bodies are not accepted; send the access token in the Authorization header",
        ));
    }

    let mut values = request.headers().get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(BearerError::Missing);
    };
    if values.next().is_some() {
        return Err(BearerError::Malformed("more than one Authorization header"));
    }
    let Ok(value) = value.to_str() else {
        return Err(BearerError::Malformed(
            "the Authorization header is not visible ASCII",
        ));
    };
    parse(value)
}

/// Parses the value of an Authorization header.
pub fn parse(value: &str) -> Result<String, BearerError> {
    let (scheme, rest) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, Some(rest)),
        None => (value, None),
    };
    if !scheme.eq_ignore_ascii_case("Bearer") {
        // Another scheme, such as Basic, carries no Bearer credentials.
        return Err(BearerError::Missing);
    }
    let token = rest.map(|rest| rest.trim_start_matches(' ')).unwrap_or("");
    if token.is_empty() {
        return Err(BearerError::Malformed("the Bearer token is empty"));
    }
    if !is_token68(token) {
        return Err(BearerError::Malformed(
            "the Bearer token must be one token68 value without spaces",
        ));
    }
    Ok(token.to_owned())
}

/// Whether a query string has a parameter named `key`, decoding it first.
fn form_has_key(query: &str, key: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == key)
}

fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Builds a `WWW-Authenticate: Bearer` value. Quotes and backslashes cannot
/// occur in the arguments, which are fixed texts of this program.
pub fn challenge(
    realm: &str,
    error: Option<&str>,
    description: Option<&str>,
    scope: Option<&str>,
) -> String {
    let mut value = format!("Bearer realm=\"{realm}\"");
    if let Some(error) = error {
        value.push_str(&format!(", error=\"{error}\""));
    }
    if let Some(description) = description {
        value.push_str(&format!(", error_description=\"{description}\""));
    }
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{scope}\""));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_any_case_scheme() {
        assert_eq!(parse("bearer abc"), Ok("abc".into()));
        assert_eq!(parse("BEARER a.b.c"), Ok("a.b.c".into()));
        assert_eq!(parse("Bearer abc=="), Ok("abc==".into()));
    }

    #[test]
    fn parse_rejects_bad_syntax() {
        assert_eq!(parse("Basic abc"), Err(BearerError::Missing));
        assert_eq!(parse("BearerX abc"), Err(BearerError::Missing));
        assert!(matches!(parse("Bearer"), Err(BearerError::Malformed(_))));
        assert!(matches!(parse("Bearer "), Err(BearerError::Malformed(_))));
        assert!(matches!(
            parse("Bearer a b"),
            Err(BearerError::Malformed(_))
        ));
        assert!(matches!(
            parse("Bearer a\"b"),
            Err(BearerError::Malformed(_))
        ));
        assert!(matches!(
            parse("Bearer =abc"),
            Err(BearerError::Malformed(_))
        ));
    }
}
