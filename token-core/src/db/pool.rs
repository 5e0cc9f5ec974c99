use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use super::{Backend, DatabaseUrl, DbConnection};
use crate::error::Error;
use crate::settings::Settings;

/// A pool of connections to the configured database.
pub type DbPool = r2d2::Pool<ConnectionManager>;

/// SQLite settings applied to every new connection after the busy timeout.
/// WAL lets readers run while one process writes; the busy timeout makes a
/// writer wait for the other process's write instead of failing at once.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = NORMAL; \
    PRAGMA foreign_keys = ON;";

/// Opens connections for r2d2, picking the backend from the URL scheme.
///
/// diesel's derived `establish` tries each backend in turn and reports only
/// the last failure, so a wrong PostgreSQL password would read as an invalid
/// URL; this manager reports the real error.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    backend: Backend,
    statement_timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{0}")]
    Connect(#[from] ConnectionError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        match &self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(self.url.expose())?;
                // A query stuck behind a lock would otherwise hold its
                // request, and its pooled connection, for ever.
                conn.batch_execute(&format!(
                    "SET statement_timeout = {}",
                    self.statement_timeout_ms
                ))?;
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};",
                    self.statement_timeout_ms
                ))?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        // diesel's check query is a prepared statement kept in the
        // connection's cache, so the check costs no SQL parsing.
        crate::on_backend!(conn, inner => inner.ping())?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Builds the pool. Connections open on first use.
pub fn connect(settings: &Settings) -> Result<DbPool, Error> {
    let url = settings.connection_strings.default.clone();
    let backend = url
        .backend()
        .map_err(|reason| Error::Invalid(format!("invalid database URL {url}: {reason}")))?;

    let sqlite_parent = match &backend {
        Backend::Sqlite(path) => path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty()),
        Backend::Postgres => None,
    };
    if let Some(parent) = sqlite_parent {
        std::fs::create_dir_all(parent).map_err(|error| {
            Error::Unavailable(format!(
                "cannot create the directory {} for database {url}: {error}",
                parent.display()
            ))
        })?;
    }

    let database = &settings.database;
    // A SQLite connection is a file handle that cannot drop like a network
    // connection, so checking it on every checkout would only cost time.
    let test_on_check_out = matches!(backend, Backend::Postgres);
    let manager = ConnectionManager {
        url: url.clone(),
        backend,
        statement_timeout_ms: database.statement_timeout_seconds.saturating_mul(1000),
    };
    r2d2::Pool::builder()
        .max_size(database.max_connections)
        // No connections opened in the background: a process that exits
        // while libpq is connecting on a pool thread can crash in libpq's
        // exit handlers (seen as SIGSEGV in about 1 of 5 admin commands).
        .min_idle(Some(0))
        .test_on_check_out(test_on_check_out)
        .connection_timeout(Duration::from_secs(database.connection_timeout_seconds))
        .error_handler(Box::new(r2d2::LoggingErrorHandler))
        .build(manager)
        .map_err(|error| Error::Unavailable(format!("cannot connect to database {url}: {error}")))
}
