//! One diesel code path for SQLite and PostgreSQL.
//!
//! The backend comes from the scheme of `ConnectionStrings:Default`. Queries
//! are written once against [`DbConnection`]; only transaction start-up and
//! migrations branch per backend.

mod pool;
pub mod schema;
mod url;

use std::sync::Mutex;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use self::pool::{DbPool, PooledDb, connect};
pub use self::url::{Backend, DatabaseUrl};
use crate::error::Error;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// An arbitrary constant that names the migration lock among PostgreSQL
/// advisory locks.
const MIGRATION_LOCK_ID: i64 = 0x746f_6b65_6e73;

/// Runs the same query body on the backend's own connection type.
///
/// Queries through the [`DbConnection`] enum are prepared anew on every
/// call, because diesel's multi-backend connection does not use the
/// prepared-statement cache (measured with callgrind: SQL parsing was most
/// of the cost of a token lookup). Hot queries therefore run on the inner
/// connection, which caches them.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, $inner:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($inner) => $body,
            $crate::db::DbConnection::Sqlite($inner) => $body,
        }
    };
}

/// Serializes this process's SQLite write transactions and checkpoints.
/// SQLite admits one writer at a time anyway, and waiting here is fairer
/// than its busy handler, which polls with sleeps. It also gives
/// [`checkpoint`] a moment with no writer of this process, which a busy
/// handler racing continuous writers rarely finds.
static SQLITE_WRITER: Mutex<()> = Mutex::new(());

/// Runs `body` in a transaction that holds the write lock from its start.
///
/// On SQLite this is `BEGIN IMMEDIATE`: a plain `BEGIN` that reads and then
/// writes fails with "database is locked" when another process wrote in
/// between, whereas `IMMEDIATE` waits for the busy timeout instead.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    body: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    // Held until the commit: see SQLITE_WRITER.
    let _writer = match conn {
        DbConnection::Sqlite(inner) => {
            let writer = SQLITE_WRITER
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            Some(writer)
        }
        DbConnection::Pg(inner) => {
            AnsiTransactionManager::begin_transaction(inner)?;
            None
        }
    };

    let result = body(conn);

    let end = match (&result, conn) {
        (Ok(_), DbConnection::Sqlite(inner)) => AnsiTransactionManager::commit_transaction(inner),
        (Ok(_), DbConnection::Pg(inner)) => AnsiTransactionManager::commit_transaction(inner),
        (Err(_), DbConnection::Sqlite(inner)) => {
            AnsiTransactionManager::rollback_transaction(inner)
        }
        (Err(_), DbConnection::Pg(inner)) => AnsiTransactionManager::rollback_transaction(inner),
    };
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(error)) => Err(error.into()),
        // The body's error explains more than a failed rollback does.
        (Err(error), _) => Err(error),
    }
}

/// Applies pending migrations; returns the names of those applied.
///
/// Safe to call from several processes at once: the check and the apply run
/// under one lock (`BEGIN IMMEDIATE` on SQLite, an advisory transaction lock
/// on PostgreSQL), so a second process waits and then finds nothing to do.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, Error> {
    write_transaction(conn, |conn| {
        let migrations = match conn {
            DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
            DbConnection::Pg(inner) => {
                use diesel::RunQueryDsl;
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
                    .execute(inner)?;
                POSTGRES_MIGRATIONS
            }
        };
        let applied = conn
            .run_pending_migrations(migrations)
            .map_err(|error| Error::Migration(error.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
}

/// Copies SQLite's write-ahead log back into the database file and lets
/// the next writer start the log from the beginning. A no-op on
/// PostgreSQL.
///
/// SQLite's own checkpoint runs in the commit that grows the log past 1000
/// pages, while other writers go on appending. Under steady writes the log
/// therefore never started over, and every commit from then on ran a
/// checkpoint with two fsync calls. This one holds off this process's writers, so the
/// log is whole in the file when it ends and the next writer starts it
/// over.
pub fn checkpoint(conn: &mut DbConnection) -> Result<(), Error> {
    if let DbConnection::Sqlite(inner) = conn {
        use diesel::RunQueryDsl;
        let _writer = SQLITE_WRITER
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        #[derive(diesel::QueryableByName)]
        struct Outcome {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            busy: i32,
        }
        let outcome =
            diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<Outcome>(inner)?;
        if outcome.busy != 0 {
            return Err(Error::Unavailable(
                "the checkpoint found the database busy".into(),
            ));
        }
    }
    Ok(())
}

/// Checks that the database responds, for readiness probes.
pub fn ping(conn: &mut DbConnection) -> Result<(), Error> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use diesel::{Connection, RunQueryDsl};

    use super::*;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }

    fn count(conn: &mut SqliteConnection, table: &str) -> i64 {
        diesel::sql_query(format!("SELECT count(*) AS count FROM {table}"))
            .get_result::<Count>(conn)
            .unwrap()
            .count
    }

    /// The table rebuilds and index changes keep every row in both
    /// directions, and the foreign keys still cascade afterwards.
    #[test]
    fn sqlite_rebuilds_keep_rows_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn =
            SqliteConnection::establish(&dir.path().join("t.db").to_string_lossy()).unwrap();
        conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
        conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        conn.batch_execute(
            "INSERT INTO clients VALUES ('c', 'h', 'password', 'all', TRUE, 1);
             INSERT INTO users VALUES ('u', 'alice', 'h', TRUE, 1);
             INSERT INTO sessions VALUES ('s', 'u', 'c', 'u', 1, 1, 9, NULL);
             INSERT INTO tokens VALUES ('t', 'access', 's', 'c', 'u', 'all', 1, 9, NULL, 'f');",
        )
        .unwrap();

        for _ in 0..2 {
            conn.revert_last_migration(SQLITE_MIGRATIONS).unwrap();
        }
        conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        for table in ["clients", "users", "sessions", "tokens"] {
            assert_eq!(count(&mut conn, table), 1, "{table}");
            let clustered =
                format!("sqlite_master WHERE name = '{table}' AND sql LIKE '%WITHOUT ROWID'");
            assert_eq!(count(&mut conn, &clustered), 1, "{table} is WITHOUT ROWID");
        }

        // The cleanup's batch query still finds revoked tokens by index.
        #[derive(diesel::QueryableByName)]
        struct Plan {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let plan: Vec<Plan> = diesel::sql_query(
            "EXPLAIN QUERY PLAN SELECT hash FROM tokens WHERE expires < 5 OR revoked_at < 5",
        )
        .load(&mut conn)
        .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|row| row.detail).collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("tokens_revoked_at_idx")),
            "{plan:?}"
        );

        conn.batch_execute("DELETE FROM clients WHERE id = 'c'")
            .unwrap();
        assert_eq!(count(&mut conn, "sessions"), 0);
        assert_eq!(count(&mut conn, "tokens"), 0);
        assert_eq!(count(&mut conn, "users"), 1);
    }
}
