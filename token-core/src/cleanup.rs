//! Deleting expired and revoked tokens and ended sessions in batches.
//!
//! Each batch is one short `DELETE` of at most `batch_size` rows, so a table
//! of millions of rows is cleaned without long locks and token validation
//! runs between batches. On PostgreSQL the rows of a batch are picked with
//! `FOR UPDATE SKIP LOCKED`, so several Auth instances cleaning at once
//! delete disjoint rows and never wait on each other. SQLite has one writer
//! at a time, which serializes the batches of concurrent instances.

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use serde::Serialize;

use crate::db::DbConnection;
use crate::error::Error;

/// Rows deleted so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deleted {
    pub tokens: u64,
    pub sessions: u64,
}

impl Deleted {
    pub fn total(&self) -> u64 {
        self.tokens + self.sessions
    }
}

/// Deletes up to `batch_size` tokens that expired or were revoked before
/// `cutoff` (unix seconds); returns how many went.
pub fn delete_token_batch(
    conn: &mut DbConnection,
    cutoff: i64,
    batch_size: i64,
) -> Result<u64, Error> {
    let deleted = match conn {
        DbConnection::Pg(inner) => diesel::sql_query(
            "DELETE FROM tokens WHERE hash IN (\
                SELECT hash FROM tokens WHERE expires < $1 OR revoked_at < $1 \
                LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<BigInt, _>(cutoff)
        .bind::<BigInt, _>(batch_size)
        .execute(inner)?,
        DbConnection::Sqlite(inner) => diesel::sql_query(
            "DELETE FROM tokens WHERE hash IN (\
                SELECT hash FROM tokens WHERE expires < ?1 OR revoked_at < ?1 LIMIT ?2)",
        )
        .bind::<BigInt, _>(cutoff)
        .bind::<BigInt, _>(batch_size)
        .execute(inner)?,
    };
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Deletes up to `batch_size` sessions that ended or expired before
/// `cutoff` and hold no tokens any more; returns how many went.
pub fn delete_session_batch(
    conn: &mut DbConnection,
    cutoff: i64,
    batch_size: i64,
) -> Result<u64, Error> {
    let deleted = match conn {
        DbConnection::Pg(inner) => diesel::sql_query(
            "DELETE FROM sessions WHERE id IN (\
                SELECT id FROM sessions s WHERE (s.ended_at < $1 OR s.expires < $1) \
                AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.session_id = s.id) \
                LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<BigInt, _>(cutoff)
        .bind::<BigInt, _>(batch_size)
        .execute(inner)?,
        DbConnection::Sqlite(inner) => diesel::sql_query(
            "DELETE FROM sessions WHERE id IN (\
                SELECT id FROM sessions s WHERE (s.ended_at < ?1 OR s.expires < ?1) \
                AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.session_id = s.id) \
                LIMIT ?2)",
        )
        .bind::<BigInt, _>(cutoff)
        .bind::<BigInt, _>(batch_size)
        .execute(inner)?,
    };
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Runs batches until nothing older than `cutoff` is left: tokens first,
/// then the sessions they emptied. `progress` is called after each batch
/// with the totals so far.
pub fn run(
    conn: &mut DbConnection,
    cutoff: i64,
    batch_size: i64,
    mut progress: impl FnMut(Deleted),
) -> Result<Deleted, Error> {
    let mut deleted = Deleted::default();
    loop {
        let count = delete_token_batch(conn, cutoff, batch_size)?;
        deleted.tokens += count;
        progress(deleted);
        if count < u64::try_from(batch_size).unwrap_or(u64::MAX) {
            break;
        }
    }
    loop {
        let count = delete_session_batch(conn, cutoff, batch_size)?;
        deleted.sessions += count;
        progress(deleted);
        if count < u64::try_from(batch_size).unwrap_or(u64::MAX) {
            break;
        }
    }
    Ok(deleted)
}
