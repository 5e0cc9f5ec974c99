//! Log set-up and the per-request log line.
//!
//! Request lines carry the method, the path, the status and the duration,
//! but never headers, bodies or the query string, which may contain a token.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

/// Sends logs to standard error, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call, as in tests that start two servers in one process,
    // keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Logs one line per request.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.path().to_owned();
    let response = next.call(request).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &response {
        Ok(response) => tracing::info!(
            http.method = %method,
            http.path = %path,
            http.status = response.status().as_u16(),
            duration_ms = format_args!("{duration_ms:.2}"),
            "request"
        ),
        Err(error) => tracing::info!(
            http.method = %method,
            http.path = %path,
            http.status = error.as_response_error().status_code().as_u16(),
            duration_ms = format_args!("{duration_ms:.2}"),
            "request"
        ),
    }
    response
}
