//! OAuth error responses (RFC 6749 §5.2, RFC 7009 §2.2.1).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use token_core::Error;
use web_common::errors::{self, RETRY_AFTER_SECONDS};

/// An error sent as `{"error": ..., "error_description": ...}`.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    /// Adds `WWW-Authenticate: Basic`, as RFC 6749 §5.2 requires for a 401
    /// `invalid_client`.
    challenge: bool,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
            challenge: false,
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Builds the one body for every client authentication failure, so that
    /// a caller cannot tell an unknown client from a wrong secret.
    pub fn invalid_client() -> Self {
        OAuthError {
            challenge: true,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant type \"{}\" is not supported; use client_credentials, password or refresh_token",
                grant_type.escape_debug()
            ),
        )
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn unsupported_token_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            description,
        )
    }

    /// 429 with `Retry-After` in whole seconds, rounded up.
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        OAuthError {
            retry_after: Some(seconds.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "rate limit reached; retry after the number of seconds in Retry-After",
            )
        }
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the request body exceeds {limit} bytes"),
        )
    }
}

impl From<Error> for OAuthError {
    fn from(error: Error) -> Self {
        let mapped = errors::map(&error);
        let code = match mapped.status {
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            StatusCode::BAD_REQUEST => "invalid_request",
            _ => "server_error",
        };
        OAuthError {
            retry_after: (mapped.status == StatusCode::SERVICE_UNAVAILABLE)
                .then_some(RETRY_AFTER_SECONDS),
            ..Self::new(mapped.status, code, mapped.description)
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((PRAGMA, "no-cache"));
        if self.challenge {
            response.insert_header((WWW_AUTHENTICATE, "Basic realm=\"auth\", charset=\"UTF-8\""));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(json!({
            "error": self.code,
            "error_description": self.description,
        }))
    }
}
