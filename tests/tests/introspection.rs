//! Introspection (RFC 7662) of live, revoked, expired and unknown tokens.

use std::time::Duration;

use integration_tests::stack::{APP, OTHER, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    live_reference_token_is_active,
    live_jwt_is_active,
    revoked_token_is_inactive,
    expired_token_is_inactive,
    unknown_token_is_inactive,
    refresh_token_visible_to_its_client_only,
    introspection_needs_client_authentication,
);

async fn live_reference_token_is_active(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let (status, body) = stack
        .introspect(READER, login["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], APP.0);
    assert_eq!(body["scope"], "all read:tickets edit:tickets");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["token_format"], "reference");
    for field in ["sub", "sid", "iss"] {
        assert!(body[field].as_str().is_some(), "{field} missing: {body}");
    }
    let iat = body["iat"].as_i64().unwrap();
    assert_eq!(body["exp"].as_i64().unwrap() - iat, 3600);
}

async fn live_jwt_is_active(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let login = stack.login().await;
    let jwt = login["access_token"].as_str().unwrap();
    let (status, body) = stack.introspect(APP, jwt).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);
    assert_eq!(body["token_format"], "jwt");

    // Introspection can see what the stateless API cannot: the session
    // behind a JWT has ended.
    assert_eq!(stack.end_session(jwt).await.0, StatusCode::OK);
    let (_, body) = stack.introspect(APP, jwt).await;
    assert_eq!(body, json!({"active": false}));
}

async fn revoked_token_is_inactive(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.revoke(APP, &token).await.0, StatusCode::OK);
    let (status, body) = stack.introspect(APP, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"active": false}));
}

async fn expired_token_is_inactive(backend: Backend) {
    let options = StackOptions {
        access_token_lifetime_seconds: 1,
        ..StackOptions::reference()
    };
    let stack = Stack::start(backend, options).await;
    let (_, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    let token = body["access_token"].as_str().unwrap();
    // Stored times have whole-second resolution: wait past the next second
    // boundary after expiry.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, body) = stack.introspect(READER, token).await;
    assert_eq!(body, json!({"active": false}));
}

async fn unknown_token_is_inactive(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let login = stack.login().await;
    let jwt = login["access_token"].as_str().unwrap();
    let tampered = format!("{}x", &jwt[..jwt.len() - 1]);
    for token in [
        "unknown",
        "a.b.c",
        tampered.as_str(),
        &jwt[..jwt.len() / 2],
        &"x".repeat(10_000),
    ] {
        let (status, body) = stack.introspect(APP, token).await;
        assert_eq!(status, StatusCode::OK, "{token}");
        assert_eq!(body, json!({"active": false}), "{token}");
    }
}

async fn refresh_token_visible_to_its_client_only(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let refresh = stack.login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = stack.introspect(APP, &refresh).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    let (_, body) = stack.introspect(OTHER, &refresh).await;
    assert_eq!(body, json!({"active": false}));
}

async fn introspection_needs_client_authentication(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let response = stack
        .http
        .post(format!("{}/connect/introspect", stack.auth.url))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
}
