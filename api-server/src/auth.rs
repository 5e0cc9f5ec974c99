//! Bearer authentication for `/api` routes.
//!
//! A middleware validates the token before any extractor runs, so that a
//! request with a bad token and a bad body gets a 401, not a 400. The
//! [`Authenticated`] extractor then reads the grant it stored.

use std::future::{Ready, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use token_core::scope;
use token_core::validation::{TokenGrant, ValidationError};
use web_common::api_error::ApiError;
use web_common::bearer;
use web_common::blocking::run;

use crate::state::ApiState;

pub const REALM: &str = "api";

/// Validates the Bearer token of every request it wraps.
pub async fn require_token(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token =
        bearer::extract(request.request()).map_err(|error| ApiError::from_bearer(REALM, error))?;
    let state = request
        .app_data::<web::Data<ApiState>>()
        .cloned()
        .ok_or_else(|| ApiError::from(token_core::Error::Internal("ApiState is missing".into())))?;

    let policy = state.policy;
    // A SQLite lookup takes microseconds, less than a hand-off to a blocking
    // thread (measured with the benchmark). On PostgreSQL a reference token
    // is looked up over an async connection. Only a JWT goes to a blocking
    // thread there, because its signing key may need loading.
    let result = if state.validator.is_local() {
        state.validator.validate(&token, policy)
    } else if state.validator.checks_async(&token) {
        state
            .validator
            .validate_reference_async(&token, policy)
            .await
    } else {
        run(move || state.validator.validate(&token, policy))
            .await
            .map_err(ApiError::from)?
    };
    match result {
        Ok(grant) => {
            request.extensions_mut().insert(grant);
            next.call(request).await
        }
        Err(ValidationError::Rejected(rejection)) => {
            tracing::debug!(reason = %rejection, "rejected an access token");
            Err(ApiError::invalid_token(REALM, rejection.description()).into())
        }
        Err(ValidationError::Store(error)) => Err(ApiError::from(error).into()),
    }
}

/// The grant of the request's access token.
pub struct Authenticated(pub TokenGrant);

impl Authenticated {
    /// Fails with 403 `insufficient_scope` unless the token carries `required`
    /// or `all`.
    pub fn require_scope(&self, required: &'static str) -> Result<(), ApiError> {
        if scope::grants(&self.0.scope, required) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(REALM, required))
        }
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let grant = request.extensions().get::<TokenGrant>().cloned();
        ready(grant.map(Authenticated).ok_or_else(|| {
            ApiError::from(token_core::Error::Internal(
                "a route outside the authenticated scope asked for a token".into(),
            ))
        }))
    }
}
