//! JSON error responses for Bearer-protected routes (RFC 6750 §3).

use std::fmt;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::WWW_AUTHENTICATE;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;
use token_core::Error;

use crate::bearer::{self, BearerError};
use crate::errors::{self, RETRY_AFTER_SECONDS};

/// An error sent as `{"error": ..., "error_description": ...}`, with a
/// `WWW-Authenticate: Bearer` challenge on 401 and 403.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: String,
    challenge: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    /// RFC 6750 §3.1: a request without credentials gets a challenge with no
    /// error code.
    pub fn missing_token(realm: &str) -> Self {
        ApiError {
            challenge: Some(bearer::challenge(realm, None, None, None)),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an Authorization: Bearer header is required",
            )
        }
    }

    pub fn malformed_credentials(realm: &str, description: &'static str) -> Self {
        ApiError {
            challenge: Some(bearer::challenge(
                realm,
                Some("invalid_request"),
                Some(description),
                None,
            )),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
        }
    }

    /// Maps a failure to read the Bearer header.
    pub fn from_bearer(realm: &str, error: BearerError) -> Self {
        match error {
            BearerError::Missing => Self::missing_token(realm),
            BearerError::Malformed(description) => Self::malformed_credentials(realm, description),
        }
    }

    /// `description` must be one of this program's fixed texts, because it
    /// goes into the challenge header unescaped.
    pub fn invalid_token(realm: &str, description: &'static str) -> Self {
        ApiError {
            challenge: Some(bearer::challenge(
                realm,
                Some("invalid_token"),
                Some(description),
                None,
            )),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
        }
    }

    pub fn insufficient_scope(realm: &str, scope: &'static str) -> Self {
        let description = format!("the access token lacks the scope \"{scope}\"");
        ApiError {
            challenge: Some(bearer::challenge(
                realm,
                Some("insufficient_scope"),
                None,
                Some(scope),
            )),
            ..Self::new(StatusCode::FORBIDDEN, "insufficient_scope", description)
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let mapped = errors::map(&error);
        let code = match mapped.status {
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            _ => "server_error",
        };
        Self::new(mapped.status, code, mapped.description)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(challenge) = &self.challenge {
            response.insert_header((WWW_AUTHENTICATE, challenge.as_str()));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()));
        }
        response.json(json!({
            "error": self.code,
            "error_description": self.description,
        }))
    }
}

/// JSON 404 for paths no route matches.
pub async fn not_found() -> HttpResponse {
    ApiError::not_found("no such route").error_response()
}

/// The largest JSON body the servers read.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Makes JSON, query-string and path extraction errors return the JSON
/// error body instead of actix's plain text.
pub fn configure_extractors(config: &mut web::ServiceConfig) {
    config
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON_BYTES)
                .error_handler(json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error));
}

fn json_error(error: JsonPayloadError, _request: &HttpRequest) -> actix_web::Error {
    let description = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            format!("the JSON body exceeds {MAX_JSON_BYTES} bytes")
        }
        JsonPayloadError::ContentType => "the body must be application/json".to_owned(),
        other => format!("invalid JSON body: {other}"),
    };
    ApiError::bad_request(description).into()
}

fn query_error(error: QueryPayloadError, _request: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("invalid query string: {error}")).into()
}

fn path_error(error: PathError, _request: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("invalid path: {error}")).into()
}
