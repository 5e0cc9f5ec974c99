//! A periodic check that this API instance's `UseReferenceTokens` matches
//! the format the Auth servers recorded in the shared database.

use std::time::Duration;

use token_core::db::DbPool;
use token_core::mode;

/// Starts the check on the current actix runtime; the first run is at once.
pub fn spawn(pool: DbPool, use_reference_tokens: bool, interval: Duration) {
    let own = if use_reference_tokens {
        "reference"
    } else {
        "jwt"
    };
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            ticker.tick().await;
            let pool = pool.clone();
            let recorded = actix_web::web::block(move || {
                let mut conn = pool.get()?;
                mode::recorded_format(&mut conn)
            })
            .await;
            match recorded {
                Ok(Ok(Some(recorded))) if recorded.format != own => tracing::warn!(
                    api.format = own,
                    auth.format = %recorded.format,
                    auth.recorded_at = recorded.updated,
                    "UseReferenceTokens differs between this API instance and the Auth servers; \
                     give every Auth and API instance the same value"
                ),
                Ok(Ok(Some(_))) => tracing::debug!("UseReferenceTokens matches the Auth servers"),
                Ok(Ok(None)) => tracing::debug!("no Auth server has recorded its token format yet"),
                Ok(Err(error)) => tracing::warn!(error = %error, "the token format check failed"),
                Err(error) => tracing::warn!(error = %error, "the token format check task failed"),
            }
        }
    });
}
