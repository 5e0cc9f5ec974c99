use token_core::Settings;
use token_core::db::DbPool;
use token_core::validation::{Policy, Validator};

/// Everything the handlers share.
pub struct ApiState {
    pub settings: Settings,
    pub pool: DbPool,
    pub validator: Validator,
    /// The token formats the API accepts, from `UseReferenceTokens`.
    pub policy: Policy,
}
