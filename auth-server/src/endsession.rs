//! `POST /connect/endsession`: log out the session of the presented token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use token_core::tokens::{self, TokenFormat};
use token_core::validation::{Policy, ValidationError};
use web_common::api_error::ApiError;
use web_common::bearer;
use web_common::blocking::{run, with_conn};

use crate::state::AuthState;

const REALM: &str = "auth";

/// Ends the session of the Bearer access token and revokes every token in
/// it. A JWT access token of either mode is accepted here, so that a user
/// can still log out after the flag was switched.
pub async fn end_session(
    request: HttpRequest,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer::extract(&request).map_err(|error| ApiError::from_bearer(REALM, error))?;
    let policy = Policy {
        accept_jwt: true,
        check_jwt_session: false,
        accept_refresh: false,
    };
    let shared = state.clone();
    let grant = match run(move || shared.validator.validate(&token, policy)).await? {
        Ok(grant) => grant,
        Err(ValidationError::Rejected(rejection)) => {
            return Err(ApiError::invalid_token(REALM, rejection.description()));
        }
        Err(ValidationError::Store(error)) => return Err(error.into()),
    };

    let session_id = grant.session_id.clone();
    let revoked = with_conn(&state.pool, move |conn| {
        tokens::end_session(conn, &session_id)
    })
    .await?;
    tracing::info!(
        session.id = %grant.session_id,
        client.id = %grant.client_id,
        tokens.revoked = revoked,
        "ended session"
    );

    let mut body = json!({
        "session_id": grant.session_id,
        "revoked_tokens": revoked,
    });
    if grant.format == TokenFormat::Jwt || !state.settings.use_reference_tokens {
        body["note"] = json!(
            "JWT access tokens issued in this session stay valid until they expire; \
             reference tokens and refresh tokens stopped working now"
        );
    }
    Ok(HttpResponse::Ok().json(body))
}
