//! Routes for the benchmark only, compiled with the `bench-routes` feature:
//! `/bench/me` runs the `/api/me` handler with authentication skipped, so
//! that the benchmark can measure what authentication costs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, web};
use token_core::tokens::TokenFormat;
use token_core::validation::TokenGrant;

use crate::me;

/// Stores a fixed grant where the Bearer middleware would store a real one.
async fn fixed_grant(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    request.extensions_mut().insert(TokenGrant {
        format: TokenFormat::Reference,
        kind: "access",
        subject: "benchmark".into(),
        client_id: "benchmark".into(),
        scope: "all".into(),
        session_id: "benchmark".into(),
        issued_at: 0,
        expires: i64::MAX,
    });
    next.call(request).await
}

pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/bench")
            .wrap(from_fn(fixed_grant))
            .route("/me", web::get().to(me::me)),
    );
}
