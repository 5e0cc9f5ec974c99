/// The current time in whole unix seconds, the unit of every stored time.
///
/// Bound from Rust rather than the database's `now()`, whose resolution
/// differs between SQLite and PostgreSQL.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
