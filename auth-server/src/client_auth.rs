//! Client authentication at the OAuth endpoints (RFC 6749 §2.3.1): HTTP
//! Basic (`client_secret_basic`) or form fields (`client_secret_post`),
//! never both in one request.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use token_core::clients::{self, Client};
use token_core::secret::Secret;
use web_common::blocking::with_conn_inline_if;

use crate::form::{self, FormParams};
use crate::oauth_error::OAuthError;
use crate::state::AuthState;

/// Credentials as presented, not yet checked.
#[derive(Debug)]
pub struct ClientCredentials {
    pub id: String,
    pub secret: Secret,
}

/// Reads the client credentials from the Basic header or the form.
pub fn read(request: &HttpRequest, params: &FormParams) -> Result<ClientCredentials, OAuthError> {
    let basic = read_basic(request)?;
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");

    match basic {
        Some(credentials) => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated with both HTTP Basic and client_secret; use one method",
                ));
            }
            if body_id.is_some_and(|id| id != credentials.id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the HTTP Basic user name",
                ));
            }
            Ok(credentials)
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(ClientCredentials {
                id: id.to_owned(),
                secret: Secret::new(secret),
            }),
            _ => Err(OAuthError::invalid_client()),
        },
    }
}

/// Parses `Authorization: Basic`. Another scheme counts as no credentials.
fn read_basic(request: &HttpRequest) -> Result<Option<ClientCredentials>, OAuthError> {
    let mut values = request.headers().get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    parse_basic(value)
}

/// Parses the value of an `Authorization` header as HTTP Basic client
/// credentials; another scheme is `Ok(None)`.
pub fn parse_basic(value: &str) -> Result<Option<ClientCredentials>, OAuthError> {
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| OAuthError::invalid_client())?;

    // RFC 7617 §2: the user-id ends at the first colon; the password may
    // contain more. RFC 6749 §2.3.1: both are form-urlencoded first.
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(OAuthError::invalid_client)?;
    let id = form::decode(&decoded[..colon]).ok_or_else(OAuthError::invalid_client)?;
    let secret = form::decode(&decoded[colon + 1..]).ok_or_else(OAuthError::invalid_client)?;
    if id.is_empty() {
        return Err(OAuthError::invalid_client());
    }
    Ok(Some(ClientCredentials {
        id,
        secret: Secret::new(secret),
    }))
}

/// Reads and checks the client credentials, then counts the client against
/// its rate limit. Every failure returns the same `invalid_client` error.
pub async fn authenticate(
    request: &HttpRequest,
    params: &FormParams,
    state: &AuthState,
) -> Result<Client, OAuthError> {
    let credentials = read(request, params)?;
    let client_id = credentials.id.clone();
    let inline = state.validator.is_local();
    let client = with_conn_inline_if(&state.pool, inline, move |conn| {
        clients::authenticate(conn, &credentials.id, &credentials.secret)
    })
    .await?;
    match client {
        Some(client) => {
            state.rate_limits.check_client(&client.id)?;
            Ok(client)
        }
        None => {
            tracing::info!(client.id = ?client_id, "client authentication failed");
            Err(OAuthError::invalid_client())
        }
    }
}
