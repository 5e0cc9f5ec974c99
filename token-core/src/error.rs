//! Domain errors of `token-core`.
//!
//! Policy: query code returns [`Error`] and never hides a database failure
//! as "not found". An unreachable or busy database is [`Error::Unavailable`],
//! which each server maps to 503; [`Error::Database`] is any other query
//! failure and maps to 500 with a correlation id. Messages never contain a
//! token, secret or password.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached or is too busy to respond in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(DieselError),
    /// A migration failed to apply.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Input that a command or request cannot accept; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A named record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A named record exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// A failure outside the database, such as key generation.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

impl From<DieselError> for Error {
    fn from(error: DieselError) -> Self {
        if is_connection_failure(&error) {
            Error::Unavailable(error.to_string())
        } else {
            Error::Database(error)
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(error: r2d2::Error) -> Self {
        Error::Unavailable(error.to_string())
    }
}

/// Tells failures of the connection, after which a retry on a new connection
/// may succeed, from failures of the query itself.
fn is_connection_failure(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => true,
            _ => {
                let message = info.message();
                // SQLite reports contention and unopenable files only as text;
                // PostgreSQL does the same for a server shutting down and for
                // a statement cancelled by statement_timeout.
                [
                    "database is locked",
                    "database is busy",
                    "unable to open database",
                    "disk I/O error",
                    "terminating connection",
                    "server closed the connection",
                    "could not connect",
                    "no connection to the server",
                    "the database system is",
                    "statement timeout",
                ]
                .iter()
                .any(|fragment| message.contains(fragment))
            }
        },
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}
