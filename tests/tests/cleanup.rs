//! Deleting expired and revoked tokens and ended sessions.

use std::time::Duration;

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(
    cleanup_keeps_live_and_recent_rows,
    concurrent_cleanups_delete_each_row_once,
);

/// Parses "deleted N tokens and M sessions ..." from the command's output.
fn parse_deleted(stdout: &str) -> (u64, u64) {
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let tokens = words[1].parse().unwrap_or_else(|_| panic!("{stdout}"));
    let sessions = words[4].parse().unwrap_or_else(|_| panic!("{stdout}"));
    (tokens, sessions)
}

async fn cleanup(stack: &Stack, retention_seconds: &str, batch_size: &str) -> (u64, u64) {
    let output = stack
        .admin(&[
            "tokens",
            "cleanup",
            "--retention-seconds",
            retention_seconds,
            "--batch-size",
            batch_size,
        ])
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cleanup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_deleted(&stdout)
}

async fn cleanup_keeps_live_and_recent_rows(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    // Session A stays live, but its only grant is revoked: 2 dead tokens.
    let revoked = stack.login().await;
    stack
        .revoke(APP, revoked["refresh_token"].as_str().unwrap())
        .await;
    // Session B ends: 2 dead tokens and 1 dead session.
    let ended = stack.login().await;
    stack
        .end_session(ended["access_token"].as_str().unwrap())
        .await;
    // Session C is live.
    let live = stack.login().await;

    // Nothing is older than an hour yet.
    assert_eq!(cleanup(&stack, "3600", "1").await, (0, 0));

    // Stored times have whole-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(cleanup(&stack, "0", "1").await, (4, 1));
    assert_eq!(cleanup(&stack, "0", "1").await, (0, 0), "nothing left");

    let live_access = live["access_token"].as_str().unwrap();
    assert_eq!(stack.me(0, live_access).await.0, StatusCode::OK);
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", live["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A deleted token is unknown, which the API rejects just the same.
    assert_eq!(
        stack.me(0, ended["access_token"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn concurrent_cleanups_delete_each_row_once(backend: Backend) {
    let options = StackOptions {
        access_token_lifetime_seconds: 1,
        ..StackOptions::reference()
    };
    let stack = Stack::start(backend, options).await;
    let count = 150;
    for _ in 0..count {
        let (status, _) = stack
            .token(READER, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let (first, second) = tokio::join!(cleanup(&stack, "0", "7"), cleanup(&stack, "0", "7"));
    assert_eq!(first.0 + second.0, count, "tokens: {first:?} {second:?}");
    assert_eq!(first.1 + second.1, count, "sessions: {first:?} {second:?}");
}
