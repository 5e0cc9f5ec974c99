//! `POST /connect/token` (RFC 6749 §4.3, §4.4, §6).

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use token_core::clients::Client;
use token_core::scope;
use token_core::secret::Secret;
use token_core::tokens::{self, IssuedTokens, NewGrant, RefreshError};
use token_core::users;
use web_common::blocking::{run, with_conn};

use crate::client_auth;
use crate::form::{self, FormParams};
use crate::oauth_error::OAuthError;
use crate::state::AuthState;

/// The successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: &'a str,
}

pub async fn token(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form::read(&request, payload).await?;
    let client = client_auth::authenticate(&request, &params, &state).await?;

    let grant_type = params.require("grant_type")?.to_owned();
    if !matches!(
        grant_type.as_str(),
        "client_credentials" | "password" | "refresh_token"
    ) {
        return Err(OAuthError::unsupported_grant_type(&grant_type));
    }
    if !client.allows_grant(&grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "client \"{}\" may not use the {grant_type} grant",
            client.id
        )));
    }

    let issued = match grant_type.as_str() {
        "client_credentials" => client_credentials(&state, &client, &params).await?,
        "password" => password(&state, &client, &params).await?,
        _ => refresh(&state, &client, &params).await?,
    };
    tracing::info!(
        client.id = %client.id,
        session.id = %issued.session_id,
        grant_type = %grant_type,
        token.format = issued.format.as_str(),
        "issued tokens"
    );

    let body = TokenResponse {
        access_token: issued.access_token.expose(),
        token_type: "Bearer",
        expires_in: issued.expires_in,
        refresh_token: issued.refresh_token.as_ref().map(Secret::expose),
        scope: &issued.scope,
    };
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(body))
}

/// Resolves the `scope` parameter against the client's allowed scopes; an
/// absent parameter means all of them.
fn requested_scope(client: &Client, params: &FormParams) -> Result<Vec<String>, OAuthError> {
    let Some(raw) = params.get("scope") else {
        return Ok(client.scopes.clone());
    };
    let requested = scope::split(raw);
    for name in &requested {
        if !scope::is_valid_token(name) {
            return Err(OAuthError::invalid_scope(format!(
                "scope \"{}\" is not a valid scope token",
                name.escape_debug()
            )));
        }
        if !client.scopes.contains(name) {
            return Err(OAuthError::invalid_scope(format!(
                "scope \"{name}\" is not allowed for client \"{}\"",
                client.id
            )));
        }
    }
    Ok(requested)
}

async fn client_credentials(
    state: &web::Data<AuthState>,
    client: &Client,
    params: &FormParams,
) -> Result<IssuedTokens, OAuthError> {
    let scope = requested_scope(client, params)?.join(" ");
    let client_id = client.id.clone();
    let state = state.clone();
    let issued = with_conn(&state.clone().pool, move |conn| {
        let grant = NewGrant {
            client_id: &client_id,
            subject: &client_id,
            user_id: None,
            scope: &scope,
            // RFC 6749 §4.4.3: no refresh token for client credentials.
            with_refresh_token: false,
        };
        tokens::issue_for_new_session(conn, &state.issuer, &grant)
    })
    .await?;
    Ok(issued)
}

async fn password(
    state: &web::Data<AuthState>,
    client: &Client,
    params: &FormParams,
) -> Result<IssuedTokens, OAuthError> {
    let username = params.require("username")?.to_owned();
    let password = Secret::new(params.require("password")?);
    let scope = requested_scope(client, params)?.join(" ");
    let client_id = client.id.clone();
    let with_refresh_token = client.allows_grant("refresh_token");
    let state = state.clone();

    // The connection is released before argon2 runs, so that a burst of
    // logins cannot hold every pooled connection.
    let stored = with_conn(&state.pool, move |conn| users::find_login(conn, &username)).await?;
    let turn = state.password_limit.acquire().await?;
    let user = run(move || users::verify_login(stored, &password)).await?;
    drop(turn);
    let Some(user) = user else {
        return Err(OAuthError::invalid_grant(
            "the username or password is incorrect",
        ));
    };

    let issued = with_conn(&state.clone().pool, move |conn| {
        let grant = NewGrant {
            client_id: &client_id,
            subject: &user.id,
            user_id: Some(&user.id),
            scope: &scope,
            with_refresh_token,
        };
        tokens::issue_for_new_session(conn, &state.issuer, &grant)
    })
    .await?;
    Ok(issued)
}

async fn refresh(
    state: &web::Data<AuthState>,
    client: &Client,
    params: &FormParams,
) -> Result<IssuedTokens, OAuthError> {
    let handle = Secret::new(params.require("refresh_token")?);
    let requested = params.get("scope").map(scope::split);
    let client_id = client.id.clone();
    let state = state.clone();

    let outcome = with_conn(&state.clone().pool, move |conn| {
        Ok(tokens::refresh(
            conn,
            &state.issuer,
            &client_id,
            &handle,
            requested.as_deref(),
        ))
    })
    .await?;
    outcome.map_err(|error| match error {
        RefreshError::InvalidGrant(description) => OAuthError::invalid_grant(description),
        RefreshError::InvalidScope(description) => OAuthError::invalid_scope(description),
        RefreshError::Store(error) => error.into(),
    })
}
