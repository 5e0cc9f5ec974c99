//! Mapping of `token-core` errors to HTTP statuses.
//!
//! An unreachable database is 503 with `Retry-After`, never 401 or 200. A
//! failure the caller cannot fix is 500 with a correlation id that is also
//! logged; the body never carries internal error text.

use actix_web::http::StatusCode;
use token_core::Error;

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// An error mapped for a response.
#[derive(Debug)]
pub struct Mapped {
    pub status: StatusCode,
    /// Text safe to show the caller.
    pub description: String,
}

/// Maps an error to a status and a caller-safe description, logging it
/// once if the caller cannot fix it.
pub fn map(error: &Error) -> Mapped {
    match error {
        Error::Unavailable(_) => {
            tracing::warn!(error = %error, "database unavailable");
            Mapped {
                status: StatusCode::SERVICE_UNAVAILABLE,
                description: "the database is unavailable; retry later".into(),
            }
        }
        Error::Invalid(message) => Mapped {
            status: StatusCode::BAD_REQUEST,
            description: message.clone(),
        },
        Error::NotFound(what) => Mapped {
            status: StatusCode::NOT_FOUND,
            description: format!("{what} not found"),
        },
        Error::Conflict(what) => Mapped {
            status: StatusCode::CONFLICT,
            description: format!("{what} already exists"),
        },
        Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
            let correlation_id = uuid::Uuid::new_v4();
            tracing::error!(error = %error, correlation.id = %correlation_id, "request failed");
            Mapped {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                description: format!("internal error; correlation id {correlation_id}"),
            }
        }
    }
}
