//! `POST /connect/revocation` (RFC 7009).

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use token_core::secret::Secret;
use token_core::tokens::{self, RevokeOutcome};
use token_core::validation::{Policy, ValidationError, looks_like_jwt};
use web_common::blocking::{run, with_conn};

use crate::client_auth;
use crate::form;
use crate::oauth_error::OAuthError;
use crate::state::AuthState;

/// Revokes a token of the calling client.
///
/// `token_type_hint` is only a hint (RFC 7009 §2.1), so it is ignored and
/// the token is looked up whatever its kind. An unknown token is a 200
/// (§2.2), because the client's goal, an unusable token, is met.
pub async fn revoke(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form::read(&request, payload).await?;
    let client = client_auth::authenticate(&request, &params, &state).await?;
    let token = Secret::new(params.require("token")?);

    if looks_like_jwt(token.expose()) {
        return revoke_jwt(&state, &client.id, token).await;
    }

    let client_id = client.id.clone();
    let outcome = with_conn(&state.pool, move |conn| {
        tokens::revoke(conn, &client_id, &token)
    })
    .await?;
    match outcome {
        RevokeOutcome::Revoked => {
            tracing::info!(client.id = %client.id, "revoked a token");
        }
        RevokeOutcome::NotFound => {}
        RevokeOutcome::OtherClient => {
            return Err(OAuthError::unauthorized_client(
                "the token was issued to another client",
            ));
        }
    }
    Ok(ok_response())
}

/// A JWT access token is not stored, so it cannot be revoked before it
/// expires. RFC 7009 §2.2.1 has `unsupported_token_type` for this case;
/// a JWT that does not verify is unknown and gets a 200.
async fn revoke_jwt(
    state: &web::Data<AuthState>,
    client_id: &str,
    token: Secret,
) -> Result<HttpResponse, OAuthError> {
    let policy = Policy {
        accept_jwt: true,
        check_jwt_session: false,
        accept_refresh: false,
    };
    let shared = state.clone();
    let result = run(move || shared.validator.validate(token.expose(), policy)).await?;
    match result {
        Ok(grant) if grant.client_id == client_id => Err(OAuthError::unsupported_token_type(
            "JWT access tokens cannot be revoked; they stay valid until they expire. \
             Revoke the refresh token or end the session instead",
        )),
        Ok(_) => Err(OAuthError::unauthorized_client(
            "the token was issued to another client",
        )),
        Err(ValidationError::Rejected(_)) => Ok(ok_response()),
        Err(ValidationError::Store(error)) => Err(error.into()),
    }
}

fn ok_response() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .finish()
}
