use std::ops::{Deref, DerefMut};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
/// Commits do not checkpoint: each Auth server does, five times a second
/// (see [`super::checkpoint`]), and the log file is cut back to 64 MiB when
/// it starts over.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
    PRAGMA synchronous = NORMAL; \
    PRAGMA wal_autocheckpoint = 0; \
    PRAGMA journal_size_limit = 67108864; \
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
    /// Set once a SQLite connection has opened: from then on the file must
    /// exist, so a file moved or deleted at run time is an outage instead
    /// of a new, empty database.
    sqlite_file_created: AtomicBool,
}

/// A pooled connection and, for SQLite, the file it has open.
pub struct PooledDb {
    conn: DbConnection,
    sqlite_file: Option<FileId>,
    /// When the connection last passed its check: the SQLite file found
    /// in place, or a PostgreSQL ping returned.
    checked: Instant,
}

/// How long a SQLite file found in place is trusted before the next check.
/// A check is a `stat` call, and a file moved away is noticed within this
/// time.
const SQLITE_FILE_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// How long a PostgreSQL connection that passed a ping is trusted before
/// the next ping. A ping on every checkout doubled the queries per token
/// lookup. A connection that dropped within this time fails its query with
/// a 503, and the next checkout after the interval replaces it.
const POSTGRES_PING_INTERVAL: Duration = Duration::from_secs(1);

impl Deref for PooledDb {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for PooledDb {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// A file's identity: device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    fn of(path: &Path) -> std::io::Result<FileId> {
        let metadata = std::fs::metadata(path)?;
        Ok(FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{0}")]
    Connect(#[from] ConnectionError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
    #[error("the database file {} was moved, replaced or deleted", .0.display())]
    FileMoved(PathBuf),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledDb;
    type Error = ManagerError;

    fn connect(&self) -> Result<PooledDb, ManagerError> {
        match &self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(self.url.expose())?;
                // A query stuck behind a lock would otherwise hold its
                // request, and its pooled connection, for ever.
                conn.batch_execute(&format!(
                    "SET statement_timeout = {}",
                    self.statement_timeout_ms
                ))?;
                Ok(PooledDb {
                    conn: DbConnection::Pg(conn),
                    sqlite_file: None,
                    checked: Instant::now(),
                })
            }
            Backend::Sqlite(path) => {
                let target = if self.sqlite_file_created.load(Ordering::Acquire) {
                    existing_file_uri(path)
                } else {
                    path.to_string_lossy().into_owned()
                };
                let mut conn = SqliteConnection::establish(&target)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};",
                    self.statement_timeout_ms
                ))?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                let file = FileId::of(path).map_err(|_| ManagerError::FileMoved(path.clone()))?;
                self.sqlite_file_created.store(true, Ordering::Release);
                Ok(PooledDb {
                    conn: DbConnection::Sqlite(conn),
                    sqlite_file: Some(file),
                    checked: Instant::now(),
                })
            }
        }
    }

    fn is_valid(&self, pooled: &mut PooledDb) -> Result<(), ManagerError> {
        let interval = match self.backend {
            Backend::Sqlite(_) => SQLITE_FILE_CHECK_INTERVAL,
            Backend::Postgres => POSTGRES_PING_INTERVAL,
        };
        if pooled.checked.elapsed() < interval {
            return Ok(());
        }
        match (&self.backend, pooled.sqlite_file) {
            // An open SQLite connection keeps working on a file that was
            // moved or deleted, and what it writes there is lost to every
            // other process, so the check is that the path still names the
            // file this connection has open.
            (Backend::Sqlite(path), Some(opened)) => match FileId::of(path) {
                Ok(current) if current == opened => {}
                _ => return Err(ManagerError::FileMoved(path.clone())),
            },
            // diesel's check query is a prepared statement kept in the
            // connection's cache, so the check costs no SQL parsing.
            _ => crate::on_backend!(&mut pooled.conn, inner => inner.ping())?,
        }
        pooled.checked = Instant::now();
        Ok(())
    }

    fn has_broken(&self, _conn: &mut PooledDb) -> bool {
        false
    }
}

/// Builds a SQLite URI that opens `path` only if it exists (`mode=rw`), with the
/// characters that URIs reserve escaped.
fn existing_file_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for character in path.to_string_lossy().chars() {
        match character {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            other => uri.push(other),
        }
    }
    uri.push_str("?mode=rw");
    uri
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
    let manager = ConnectionManager {
        url: url.clone(),
        backend,
        statement_timeout_ms: database.statement_timeout_seconds.saturating_mul(1000),
        sqlite_file_created: AtomicBool::new(false),
    };
    r2d2::Pool::builder()
        .max_size(database.max_connections)
        // No connections opened in the background: a process that exits
        // while libpq is connecting on a pool thread can crash in libpq's
        // exit handlers (seen as SIGSEGV in about 1 of 5 admin commands).
        .min_idle(Some(0))
        .test_on_check_out(true)
        .connection_timeout(Duration::from_secs(database.connection_timeout_seconds))
        .error_handler(Box::new(r2d2::LoggingErrorHandler))
        .build(manager)
        .map_err(|error| Error::Unavailable(format!("cannot connect to database {url}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_reserved_characters() {
        assert_eq!(
            existing_file_uri(Path::new("data/a%b?c#d.db")),
            "file:data/a%25b%3fc%23d.db?mode=rw"
        );
    }

    #[test]
    fn a_moved_file_fails_to_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a?b.db");
        SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        SqliteConnection::establish(&existing_file_uri(&path)).unwrap();

        std::fs::rename(&path, dir.path().join("moved.db")).unwrap();
        assert!(SqliteConnection::establish(&existing_file_uri(&path)).is_err());
        assert!(!path.exists());
    }
}
