use std::sync::Arc;

use token_core::Settings;
use token_core::db::DbPool;
use token_core::keys::KeyCache;
use token_core::tokens::Issuer;
use token_core::validation::Validator;

use crate::password_limit::PasswordLimit;
use crate::rate_limit::RateLimits;

/// Everything the handlers share.
pub struct AuthState {
    pub settings: Settings,
    pub pool: DbPool,
    pub issuer: Issuer,
    pub keys: Arc<KeyCache>,
    pub validator: Validator,
    pub rate_limits: RateLimits,
    pub password_limit: PasswordLimit,
}
