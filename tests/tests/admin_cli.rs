//! The admin commands mirror the `/admin` routes.

use std::collections::BTreeSet;

use integration_tests::stack::{ALICE, APP, BOB, OTHER, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_backends!(
    sessions_list_matches_http_route,
    sessions_end_by_id_and_user,
    users_and_clients_disable,
    unknown_names_fail_clearly,
);

/// Runs an admin command that must succeed; returns its standard output.
async fn admin_ok(stack: &Stack, args: &[&str]) -> String {
    let output = stack.admin(args).await;
    assert!(
        output.status.success(),
        "auth-server {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

async fn admin_json(stack: &Stack, args: &[&str]) -> Value {
    let stdout = admin_ok(stack, args).await;
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{args:?}: {error}: {stdout}"))
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

async fn sessions_list_matches_http_route(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    stack.login().await;
    stack.login_as(OTHER, ALICE).await;
    stack.login_as(APP, BOB).await;

    let listed = admin_json(&stack, &["sessions", "list", "--json"]).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    let admin = stack.admin_token().await;
    let (_, from_http) = stack
        .auth_request(Method::GET, "/admin/sessions", &admin)
        .await;
    assert_eq!(keys(&listed[0]), keys(&from_http[0]));
    assert!(keys(&listed[0]).contains("id"));

    let by_user = admin_json(&stack, &["sessions", "list", "--user", "alice", "--json"]).await;
    assert_eq!(by_user.as_array().map(Vec::len), Some(2));
    let by_client = admin_json(&stack, &["sessions", "list", "--client", "other", "--json"]).await;
    assert_eq!(by_client.as_array().map(Vec::len), Some(1));

    let table = admin_ok(&stack, &["sessions", "list"]).await;
    let mut lines = table.lines();
    assert!(
        lines.next().is_some_and(|header| header.starts_with("ID")),
        "{table}"
    );
    assert_eq!(
        lines.count(),
        4,
        "three logins and the admin token: {table}"
    );
    assert!(table.contains("alice"), "{table}");
    assert!(table.contains("bob"), "{table}");
}

async fn sessions_end_by_id_and_user(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let first = stack.login().await;
    let second = stack.login_as(OTHER, ALICE).await;
    let bob = stack.login_as(APP, BOB).await;
    let bob_token = bob["access_token"].as_str().unwrap();

    let (_, me) = stack.me(0, bob_token).await;
    let ended = admin_json(
        &stack,
        &["sessions", "end", me["sid"].as_str().unwrap(), "--json"],
    )
    .await;
    assert_eq!(ended["ended_sessions"], 1);
    assert_eq!(stack.me(0, bob_token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(1, bob_token).await.0, StatusCode::UNAUTHORIZED);

    let text = admin_ok(&stack, &["sessions", "end", "--user", "alice"]).await;
    assert!(text.contains("ended 2 session(s)"), "{text}");
    for login in [&first, &second] {
        let token = login["access_token"].as_str().unwrap();
        assert_eq!(stack.me(1, token).await.0, StatusCode::UNAUTHORIZED);
    }
}

async fn users_and_clients_disable(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let token = login["access_token"].as_str().unwrap();
    let (_, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    let reader_token = body["access_token"].as_str().unwrap();

    admin_ok(&stack, &["users", "disable", ALICE.0]).await;
    assert_eq!(stack.me(0, token).await.0, StatusCode::UNAUTHORIZED);
    let users = admin_json(&stack, &["users", "list", "--json"]).await;
    let alice = users
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["username"] == ALICE.0)
        .unwrap();
    assert_eq!(alice["enabled"], false);
    assert!(alice["id"].is_string());

    admin_ok(&stack, &["clients", "disable", READER.0]).await;
    assert_eq!(stack.me(1, reader_token).await.0, StatusCode::UNAUTHORIZED);
    let clients = admin_json(&stack, &["clients", "list", "--json"]).await;
    let admin = stack.admin_token().await;
    let (_, from_http) = stack
        .auth_request(Method::GET, "/admin/clients", &admin)
        .await;
    assert_eq!(clients, from_http);

    admin_ok(&stack, &["users", "enable", ALICE.0]).await;
    assert_eq!(stack.me(0, token).await.0, StatusCode::OK);
}

async fn unknown_names_fail_clearly(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    for (args, expected) in [
        (
            vec!["sessions", "end", "no-such-id"],
            "live session \"no-such-id\" not found",
        ),
        (
            vec!["sessions", "end", "--user", "nobody"],
            "user \"nobody\" not found",
        ),
        (
            vec!["users", "disable", "nobody"],
            "user \"nobody\" not found",
        ),
        (
            vec!["clients", "disable", "nobody"],
            "client \"nobody\" not found",
        ),
        (
            vec!["sessions", "list", "--user", "nobody"],
            "user \"nobody\" not found",
        ),
    ] {
        let output = stack.admin(&args).await;
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
