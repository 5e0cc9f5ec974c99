//! `/admin` routes for operators: sessions, users and clients. Every route
//! needs a Bearer access token with the `admin` scope.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use token_core::sessions::{self, SessionFilter};
use token_core::{Error, clients, users};
use web_common::api_error::ApiError;
use web_common::blocking::with_conn;

use crate::bearer_auth::authenticate_admin;
use crate::sessions::ended_response;
use crate::state::AuthState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// A username.
    user: Option<String>,
    /// A client id.
    client: Option<String>,
}

/// `GET /admin/sessions[?user=USERNAME][&client=CLIENT_ID]`: live sessions.
pub async fn list_sessions(
    request: HttpRequest,
    query: web::Query<SessionQuery>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&request, &state).await?;
    let query = query.into_inner();
    let found = with_conn(&state.pool, move |conn| {
        let filter = session_filter(conn, query.user.as_deref(), query.client)?;
        sessions::list_live(conn, &filter)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Builds a filter, resolving a username to its user id.
pub fn session_filter(
    conn: &mut token_core::db::DbConnection,
    username: Option<&str>,
    client_id: Option<String>,
) -> Result<SessionFilter, Error> {
    let user_id = match username {
        Some(username) => Some(
            users::find_by_username(conn, username)?
                .ok_or_else(|| Error::NotFound(format!("user \"{username}\"")))?
                .id,
        ),
        None => None,
    };
    Ok(SessionFilter {
        subject: None,
        user_id,
        client_id,
    })
}

/// `DELETE /admin/sessions/{id}`: ends any live session.
pub async fn end_session(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate_admin(&request, &state).await?;
    let id = id.into_inner();
    let session_id = id.clone();
    let ended = with_conn(&state.pool, move |conn| {
        sessions::end_one(conn, &session_id, None)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no live session \"{}\"", id.escape_debug())))?;
    tracing::info!(session.id = %id, admin.client = %admin.client_id, "admin ended a session");
    Ok(ended_response(&state, ended))
}

/// `DELETE /admin/users/{username}/sessions`: ends every session of a user.
pub async fn end_user_sessions(
    request: HttpRequest,
    username: web::Path<String>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate_admin(&request, &state).await?;
    let username = username.into_inner();
    let name = username.clone();
    let ended = with_conn(&state.pool, move |conn| {
        let user = users::find_by_username(conn, &name)?
            .ok_or_else(|| Error::NotFound(format!("user \"{name}\"")))?;
        sessions::end_all_of_user(conn, &user.id)
    })
    .await?;
    tracing::info!(
        user.name = ?username,
        sessions.ended = ended.ended_sessions,
        admin.client = %admin.client_id,
        "admin ended a user's sessions"
    );
    Ok(ended_response(&state, ended))
}

/// `GET /admin/users`.
pub async fn list_users(
    request: HttpRequest,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&request, &state).await?;
    let found = with_conn(&state.pool, users::list).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// `GET /admin/clients`.
pub async fn list_clients(
    request: HttpRequest,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    authenticate_admin(&request, &state).await?;
    let found = with_conn(&state.pool, clients::list).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// `POST /admin/users/{username}/disable` and `.../enable`.
pub async fn set_user_enabled(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate_admin(&request, &state).await?;
    let (username, action) = path.into_inner();
    let enabled = parse_action(&action)?;
    let user = with_conn(&state.pool, move |conn| {
        users::set_enabled(conn, &username, enabled)
    })
    .await?;
    tracing::info!(user.id = %user.id, enabled, admin.client = %admin.client_id, "admin changed a user");
    Ok(HttpResponse::Ok().json(user))
}

/// `POST /admin/clients/{id}/disable` and `.../enable`.
pub async fn set_client_enabled(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let admin = authenticate_admin(&request, &state).await?;
    let (id, action) = path.into_inner();
    let enabled = parse_action(&action)?;
    let client = with_conn(&state.pool, move |conn| {
        clients::set_enabled(conn, &id, enabled)
    })
    .await?;
    tracing::info!(client.id = %client.id, enabled, admin.client = %admin.client_id, "admin changed a client");
    Ok(HttpResponse::Ok().json(client))
}

fn parse_action(action: &str) -> Result<bool, ApiError> {
    match action {
        "enable" => Ok(true),
        "disable" => Ok(false),
        other => Err(ApiError::not_found(format!(
            "unknown action \"{}\"; use enable or disable",
            other.escape_debug()
        ))),
    }
}

/// Registers the `/admin` routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/admin")
            .route("/sessions", web::get().to(list_sessions))
            .route("/sessions/{id}", web::delete().to(end_session))
            .route("/users", web::get().to(list_users))
            .route(
                "/users/{username}/sessions",
                web::delete().to(end_user_sessions),
            )
            .route(
                "/users/{username}/{action}",
                web::post().to(set_user_enabled),
            )
            .route("/clients", web::get().to(list_clients))
            .route("/clients/{id}/{action}", web::post().to(set_client_enabled)),
    );
}
