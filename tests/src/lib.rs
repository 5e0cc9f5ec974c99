//! A harness that runs the real `auth-server` and `api-server` binaries as
//! processes on loopback ports against a fresh database per test.

pub mod binaries;
pub mod database;
pub mod proxy;
pub mod server;
pub mod stack;

pub use database::Backend;
pub use stack::{Stack, StackOptions};

/// Declares each listed scenario as one test per backend: `sqlite::NAME`
/// always runs; `postgres::NAME` runs when `TEST_DATABASE_URL` is set, and
/// fails instead of skipping when `CI` is set.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::Backend::postgres_from_env() {
                        super::$name(backend).await;
                    }
                }
            )*
        }
    };
}
