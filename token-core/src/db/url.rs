use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A database connection string whose `Debug` and `Display` mask the password.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

/// The database a connection string points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A libpq connection URL, passed on unchanged.
    Postgres,
    /// A file path; `sqlite://data/tokens.db` is relative to the working
    /// directory and `sqlite:///var/lib/tokens.db` is absolute.
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    /// The full connection string, password included. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn backend(&self) -> Result<Backend, String> {
        Self::parse_backend(&self.0)
    }

    /// Picks the backend from the URL scheme.
    pub fn parse_backend(url: &str) -> Result<Backend, String> {
        if let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        {
            if rest.is_empty() {
                return Err("the PostgreSQL URL names no host".into());
            }
            return Ok(Backend::Postgres);
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() || path == ":memory:" {
                return Err(
                    "a SQLite database must be a file that both services can open, \
                     such as sqlite://data/tokens.db"
                        .into(),
                );
            }
            return Ok(Backend::Sqlite(PathBuf::from(path)));
        }
        Err("expected a URL starting with sqlite:// or postgres://".into())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                // set_password only fails for URLs that cannot have one.
                let _ = url.set_password(Some("***"));
                f.write_str(url.as_str())
            }
            Ok(_) => f.write_str(&self.0),
            Err(_) if self.0.contains('@') => f.write_str("(unparsable URL, hidden)"),
            Err(_) => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_masks_password() {
        let url = DatabaseUrl::new("postgres://app:s3cret@db:5432/tokens");
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/tokens");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn backend_from_scheme() {
        assert_eq!(
            DatabaseUrl::new("sqlite://data/t.db").backend(),
            Ok(Backend::Sqlite(PathBuf::from("data/t.db")))
        );
        assert_eq!(
            DatabaseUrl::new("sqlite:///tmp/t.db").backend(),
            Ok(Backend::Sqlite(PathBuf::from("/tmp/t.db")))
        );
        assert_eq!(
            DatabaseUrl::new("postgresql://h/d").backend(),
            Ok(Backend::Postgres)
        );
        assert!(DatabaseUrl::new("mysql://h/d").backend().is_err());
        assert!(DatabaseUrl::new("sqlite://:memory:").backend().is_err());
    }
}
