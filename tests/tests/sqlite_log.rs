//! SQLite's write-ahead log starts over while the Auth server keeps
//! writing: commits do not checkpoint, so without the Auth server's
//! checkpoint job the log would grow for as long as the server runs.

use std::time::Duration;

use integration_tests::stack::READER;
use integration_tests::{Backend, Stack, StackOptions};
use reqwest::StatusCode;

/// Reads the checkpoint sequence number in the log's header, which SQLite
/// increments each time the log starts over.
fn log_generation(database: &std::path::Path) -> u32 {
    let header = std::fs::read(database.with_extension("db-wal")).expect("read the log");
    u32::from_be_bytes(header[12..16].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_ahead_log_starts_over() {
    let stack = Stack::start(Backend::Sqlite, StackOptions::reference()).await;
    let path = stack.database.sqlite_path().expect("a SQLite database");
    let issue = || async {
        let (status, body) = stack
            .token(READER, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    };

    issue().await;
    let before = log_generation(&path);
    for _ in 0..5 {
        for _ in 0..10 {
            issue().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let after = log_generation(&path);
    assert!(
        after >= before + 2,
        "the log started over {} times in 1.5 s of writes",
        after - before
    );
}
