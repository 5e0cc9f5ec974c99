//! The cleanup job: every `Cleanup:IntervalSeconds`, delete tokens and
//! sessions older than `Cleanup:RetentionSeconds`.

use std::time::{Duration, Instant};

use token_core::Settings;
use token_core::cleanup::{self, Deleted};
use token_core::db::DbPool;
use token_core::time::now;

/// Runs one cleanup pass to the end; `progress` receives the totals after each
/// batch. Blocking.
pub fn run_once(
    pool: &DbPool,
    settings: &Settings,
    progress: impl FnMut(Deleted),
) -> Result<Deleted, token_core::Error> {
    let retention = i64::try_from(settings.cleanup.retention_seconds).unwrap_or(i64::MAX);
    let cutoff = now().saturating_sub(retention);
    let mut conn = pool.get()?;
    cleanup::run(
        &mut conn,
        cutoff,
        i64::from(settings.cleanup.batch_size),
        progress,
    )
}

/// Starts the background job on the current actix runtime.
pub fn spawn(pool: DbPool, settings: Settings) {
    if !settings.cleanup.enabled {
        tracing::info!("the cleanup job is disabled (Cleanup:Enabled is false)");
        return;
    }
    let interval = Duration::from_secs(settings.cleanup.interval_seconds);
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            ticker.tick().await;
            let pool = pool.clone();
            let settings = settings.clone();
            let started = Instant::now();
            let result = actix_web::web::block(move || run_once(&pool, &settings, |_| {})).await;
            match result {
                Ok(Ok(deleted)) if deleted.total() > 0 => tracing::info!(
                    tokens.deleted = deleted.tokens,
                    sessions.deleted = deleted.sessions,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "cleanup deleted old tokens and sessions"
                ),
                Ok(Ok(_)) => tracing::debug!("cleanup found nothing to delete"),
                Ok(Err(error)) => {
                    tracing::warn!(error = %error, "cleanup failed; retrying at the next interval")
                }
                Err(error) => tracing::warn!(error = %error, "cleanup task failed"),
            }
        }
    });
}
