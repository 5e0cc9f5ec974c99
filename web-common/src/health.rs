use actix_web::{HttpResponse, web};
use serde_json::json;
use token_core::db::{self, DbPool};

use crate::blocking::with_conn;
use crate::errors::RETRY_AFTER_SECONDS;

/// `GET /health/live`: 200 while the process runs.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

/// `GET /health/ready`: 200 while the database responds too, 503 otherwise.
pub async fn ready(pool: web::Data<DbPool>) -> HttpResponse {
    match with_conn(&pool, db::ping).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()))
                .json(json!({ "status": "unavailable", "reason": "database unavailable" }))
        }
    }
}

/// Registers both health paths.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready));
}
