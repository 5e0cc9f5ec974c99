//! Bearer authentication for Auth's own protected routes.

use actix_web::HttpRequest;
use actix_web::web;
use token_core::validation::{Policy, TokenGrant, ValidationError};
use web_common::api_error::ApiError;
use web_common::bearer;
use web_common::blocking::run;

use crate::state::AuthState;

pub const REALM: &str = "auth";

/// JWTs are accepted in either mode, so that users can still manage their
/// sessions after the flag was switched, but only while their session is
/// live: Auth has the database at hand, unlike a stateless API.
const POLICY: Policy = Policy {
    accept_jwt: true,
    check_jwt_session: true,
    accept_refresh: false,
};

/// Validates the request's Bearer access token.
pub async fn authenticate(
    request: &HttpRequest,
    state: &web::Data<AuthState>,
) -> Result<TokenGrant, ApiError> {
    let token = bearer::extract(request).map_err(|error| ApiError::from_bearer(REALM, error))?;
    let shared = state.clone();
    match run(move || shared.validator.validate(&token, POLICY)).await? {
        Ok(grant) => Ok(grant),
        Err(ValidationError::Rejected(rejection)) => {
            Err(ApiError::invalid_token(REALM, rejection.description()))
        }
        Err(ValidationError::Store(error)) => Err(error.into()),
    }
}

/// Like [`authenticate`], and also requires the `admin` scope. The `all`
/// scope of the API does not include it.
pub async fn authenticate_admin(
    request: &HttpRequest,
    state: &web::Data<AuthState>,
) -> Result<TokenGrant, ApiError> {
    let grant = authenticate(request, state).await?;
    if grant.scope.split(' ').any(|name| name == "admin") {
        Ok(grant)
    } else {
        Err(ApiError::insufficient_scope(REALM, "admin"))
    }
}

/// The sentence added to end-session responses while access tokens are JWTs.
pub fn jwt_note(state: &AuthState) -> Option<&'static str> {
    (!state.settings.use_reference_tokens).then_some(
        "JWT access tokens issued in the ended sessions stay valid until they expire; \
         reference tokens and refresh tokens stopped working now",
    )
}
