//! A fresh database per test: a SQLite file in the test's directory, or a
//! new PostgreSQL database created from `TEST_DATABASE_URL`.

use std::path::Path;

use diesel::{Connection, PgConnection, RunQueryDsl};

/// Which backend a scenario runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL that test databases are created through.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend when `TEST_DATABASE_URL` is set. Without it,
    /// `None` (the test is skipped), except under CI, where a missing
    /// PostgreSQL must fail the run.
    pub fn postgres_from_env() -> Option<Backend> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|value| value == "true") => {
                panic!("CI=true but TEST_DATABASE_URL is not set; PostgreSQL tests cannot run")
            }
            _ => {
                eprintln!("skipped: set TEST_DATABASE_URL to run the PostgreSQL variant");
                None
            }
        }
    }
}

/// A database that exists for one test. A PostgreSQL database is dropped
/// when this value is.
#[derive(Debug)]
pub struct TestDatabase {
    /// The connection string for the services.
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// The SQLite file of a SQLite test database; `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self.url
            .strip_prefix("sqlite://")
            .map(std::path::PathBuf::from)
    }

    pub fn create(backend: &Backend, dir: &Path) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.join("tokens.db").display()),
                postgres: None,
            },
            Backend::Postgres(admin_url) => {
                let name = format!("tokens_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(admin_url)
                    .unwrap_or_else(|error| panic!("cannot connect to TEST_DATABASE_URL: {error}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("CREATE DATABASE failed");
                let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is not a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase {
                    url: url.to_string(),
                    postgres: Some((admin_url.clone(), name)),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Drops a PostgreSQL database while services may still be connected,
    /// which makes it unreachable for them.
    pub fn drop_now(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        if let Ok(mut admin) = PgConnection::establish(&admin_url) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.drop_now();
    }
}
