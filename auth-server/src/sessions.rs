//! `/connect/sessions`: the caller's own live sessions.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use token_core::sessions::{self, Ended, SessionFilter};
use web_common::api_error::ApiError;
use web_common::blocking::with_conn;

use crate::bearer_auth;
use crate::state::AuthState;

/// One session as `GET /connect/sessions` lists it.
#[derive(Serialize)]
struct OwnSession {
    id: String,
    client_id: String,
    created: i64,
    last_seen: i64,
    expires: i64,
    /// True for the session of the presented token.
    current: bool,
}

/// `GET /connect/sessions`: the live sessions of the token's subject.
pub async fn list(
    request: HttpRequest,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let grant = bearer_auth::authenticate(&request, &state).await?;
    let filter = SessionFilter {
        subject: Some(grant.subject.clone()),
        ..SessionFilter::default()
    };
    let found = with_conn(&state.pool, move |conn| sessions::list_live(conn, &filter)).await?;
    let own: Vec<OwnSession> = found
        .into_iter()
        .map(|session| OwnSession {
            current: session.id == grant.session_id,
            id: session.id,
            client_id: session.client_id,
            created: session.created,
            last_seen: session.last_seen,
            expires: session.expires,
        })
        .collect();
    Ok(HttpResponse::Ok().json(own))
}

/// `DELETE /connect/sessions/{id}`: ends one of the caller's sessions.
pub async fn end_one(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let grant = bearer_auth::authenticate(&request, &state).await?;
    let id = id.into_inner();
    let session_id = id.clone();
    let subject = grant.subject.clone();
    let ended = with_conn(&state.pool, move |conn| {
        sessions::end_one(conn, &session_id, Some(&subject))
    })
    .await?;
    let Some(ended) = ended else {
        return Err(ApiError::not_found(format!(
            "no live session \"{}\" of yours",
            id.escape_debug()
        )));
    };
    tracing::info!(session.id = %id, subject = %grant.subject, "ended session on request");
    Ok(ended_response(&state, ended))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndAllQuery {
    #[serde(default)]
    keep_current: bool,
}

/// `DELETE /connect/sessions[?keep_current=true]`: ends all of the
/// caller's sessions, or all but the current one.
pub async fn end_all(
    request: HttpRequest,
    query: web::Query<EndAllQuery>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let grant = bearer_auth::authenticate(&request, &state).await?;
    let keep = query.keep_current.then(|| grant.session_id.clone());
    let subject = grant.subject.clone();
    let ended = with_conn(&state.pool, move |conn| {
        sessions::end_all_of_subject(conn, &subject, keep.as_deref())
    })
    .await?;
    tracing::info!(
        subject = %grant.subject,
        sessions.ended = ended.ended_sessions,
        "ended sessions on request"
    );
    Ok(ended_response(&state, ended))
}

/// `{"ended_sessions": N, "revoked_tokens": M}`, plus a note in JWT mode.
pub fn ended_response(state: &AuthState, ended: Ended) -> HttpResponse {
    let mut body = json!(ended);
    if let Some(note) = bearer_auth::jwt_note(state) {
        body["note"] = json!(note);
    }
    HttpResponse::Ok().json(body)
}
