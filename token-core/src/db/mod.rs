//! One diesel code path for SQLite and PostgreSQL.
//!
//! The backend comes from the scheme of `ConnectionStrings:Default`. Queries
//! are written once against [`DbConnection`]; only transaction start-up and
//! migrations branch per backend.

mod pool;
pub mod schema;
mod url;

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
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        DbConnection::Pg(inner) => AnsiTransactionManager::begin_transaction(inner)?,
    }

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

/// Checks that the database responds, for readiness probes.
pub fn ping(conn: &mut DbConnection) -> Result<(), Error> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1")?;
    Ok(())
}
