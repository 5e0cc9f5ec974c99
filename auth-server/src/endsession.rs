//! `POST /connect/endsession`: log out the session of the presented token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use token_core::tokens;
use web_common::api_error::ApiError;
use web_common::blocking::with_conn;

use crate::bearer_auth;
use crate::state::AuthState;

/// Ends the session of the Bearer access token and revokes every token in
/// it.
pub async fn end_session(
    request: HttpRequest,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let grant = bearer_auth::authenticate(&request, &state).await?;
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
    if let Some(note) = bearer_auth::jwt_note(&state) {
        body["note"] = json!(note);
    }
    Ok(HttpResponse::Ok().json(body))
}
