//! The tickets resource: `read:tickets` to read, `edit:tickets` to write,
//! `all` for both.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use token_core::tickets::{self, NewTicket, TicketChanges};
use web_common::api_error::ApiError;
use web_common::blocking::with_conn;

use crate::auth::Authenticated;
use crate::state::ApiState;

const READ: &str = "read:tickets";
const EDIT: &str = "edit:tickets";
const MAX_PAGE_SIZE: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(
    auth: Authenticated,
    page: web::Query<Page>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_scope(READ)?;
    let limit = page.limit.unwrap_or(100);
    let offset = page.offset.unwrap_or(0);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}"
        )));
    }
    if offset < 0 {
        return Err(ApiError::bad_request(format!(
            "offset must not be negative, got {offset}"
        )));
    }
    let found = with_conn(&state.pool, move |conn| tickets::list(conn, limit, offset)).await?;
    Ok(HttpResponse::Ok().json(found))
}

pub async fn create(
    auth: Authenticated,
    body: web::Json<NewTicket>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_scope(EDIT)?;
    let subject = auth.0.subject;
    let ticket = with_conn(&state.pool, move |conn| {
        tickets::create(conn, body.into_inner(), &subject)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/tickets/{}", ticket.id)))
        .json(ticket))
}

pub async fn get(
    auth: Authenticated,
    id: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_scope(READ)?;
    let id = id.into_inner();
    let lookup = id.clone();
    match with_conn(&state.pool, move |conn| tickets::find(conn, &lookup)).await? {
        Some(ticket) => Ok(HttpResponse::Ok().json(ticket)),
        None => Err(not_found(&id)),
    }
}

pub async fn update(
    auth: Authenticated,
    id: web::Path<String>,
    body: web::Json<TicketChanges>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_scope(EDIT)?;
    let id = id.into_inner();
    let lookup = id.clone();
    let updated = with_conn(&state.pool, move |conn| {
        tickets::update(conn, &lookup, body.into_inner())
    })
    .await?;
    match updated {
        Some(ticket) => Ok(HttpResponse::Ok().json(ticket)),
        None => Err(not_found(&id)),
    }
}

pub async fn delete(
    auth: Authenticated,
    id: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_scope(EDIT)?;
    let id = id.into_inner();
    let lookup = id.clone();
    if with_conn(&state.pool, move |conn| tickets::delete(conn, &lookup)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&id))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("ticket \"{}\" not found", id.escape_debug()))
}
