use std::sync::Arc;

use token_core::Settings;
use token_core::db::DbPool;
use token_core::validation::{Policy, Validator};
use token_core::validation_cache::ValidationCache;

/// Everything the handlers share.
pub struct ApiState {
    pub settings: Settings,
    pub pool: DbPool,
    pub validator: Validator,
    /// The token formats the API accepts, from `UseReferenceTokens`.
    pub policy: Policy,
    /// Set when `Tokens:ValidationCache` is on and the database is
    /// PostgreSQL.
    pub cache: Option<Arc<ValidationCache>>,
}
