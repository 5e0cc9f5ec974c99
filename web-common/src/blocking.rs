use actix_web::web;
use token_core::Error;
use token_core::db::{DbConnection, DbPool};

/// Runs database work on a blocking thread, so that a slow query or an
/// argon2 hash never stalls the async workers.
pub async fn with_conn<T, F>(pool: &DbPool, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await
    .map_err(|error| Error::Internal(format!("blocking task failed: {error}")))?
}

/// Like [`with_conn`], but runs the work on the current thread when
/// `inline` is set: for SQLite lookups that take microseconds, less than
/// the hand-off to a blocking thread.
pub async fn with_conn_inline_if<T, F>(pool: &DbPool, inline: bool, work: F) -> Result<T, Error>
where
    F: FnOnce(&mut DbConnection) -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    if inline {
        let mut conn = pool.get()?;
        return work(&mut conn);
    }
    with_conn(pool, work).await
}

/// Runs blocking work that needs no connection of its own.
pub async fn run<T, F>(work: F) -> Result<T, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    web::block(work)
        .await
        .map_err(|error| Error::Internal(format!("blocking task failed: {error}")))
}
