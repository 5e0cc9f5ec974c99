//! `POST /connect/introspect` (RFC 7662).

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use token_core::validation::{Policy, ValidationError};
use web_common::blocking::run;

use crate::client_auth;
use crate::form;
use crate::oauth_error::OAuthError;
use crate::state::AuthState;

/// The response for a live token (RFC 7662 §2.2).
#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    scope: &'a str,
    client_id: &'a str,
    sub: &'a str,
    exp: i64,
    iat: i64,
    token_type: &'static str,
    sid: &'a str,
    iss: &'a str,
    /// Not in RFC 7662: whether the access token is a JWT or a reference
    /// token.
    token_format: &'static str,
}

/// Tells a calling client whether a token is live.
///
/// Any authenticated client may introspect access tokens; a refresh token
/// is shown only to the client it was issued to. For every token that is
/// not live the response is `{"active": false}` and nothing more (§2.2).
pub async fn introspect(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form::read(&request, payload).await?;
    let client = client_auth::authenticate(&request, &params, &state).await?;
    let token = params.require("token")?.to_owned();

    let policy = Policy {
        accept_jwt: !state.settings.use_reference_tokens,
        check_jwt_session: true,
        accept_refresh: true,
    };
    let result = if state.validator.is_local() {
        state.validator.validate(&token, policy)
    } else {
        let shared = state.clone();
        run(move || shared.validator.validate(&token, policy)).await?
    };

    let mut response = HttpResponse::Ok();
    response
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"));
    match result {
        Ok(grant) if grant.kind == "refresh" && grant.client_id != client.id => {
            Ok(response.json(serde_json::json!({ "active": false })))
        }
        Ok(grant) => Ok(response.json(Active {
            active: true,
            scope: &grant.scope,
            client_id: &grant.client_id,
            sub: &grant.subject,
            exp: grant.expires,
            iat: grant.issued_at,
            token_type: if grant.kind == "refresh" {
                "refresh_token"
            } else {
                "Bearer"
            },
            sid: &grant.session_id,
            iss: state.settings.issuer(),
            token_format: grant.format.as_str(),
        })),
        Err(ValidationError::Rejected(_)) => {
            Ok(response.json(serde_json::json!({ "active": false })))
        }
        Err(ValidationError::Store(error)) => Err(error.into()),
    }
}
