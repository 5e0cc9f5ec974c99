//! Expiry and switching `UseReferenceTokens` on a running deployment.

use std::time::Duration;

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(
    expired_tokens_rejected,
    switch_to_reference_keeps_users_logged_in,
    switch_back_to_jwt_keeps_reference_tokens,
    discovery_states_token_format,
);

async fn expired_tokens_rejected(backend: Backend) {
    for use_reference_tokens in [true, false] {
        let options = StackOptions {
            use_reference_tokens,
            // Two seconds, so that the first call cannot cross the expiry
            // boundary when the token was issued late in a second.
            access_token_lifetime_seconds: 2,
            ..StackOptions::default()
        };
        let stack = Stack::start(backend.clone(), options).await;
        let (_, body) = stack
            .token(READER, &[("grant_type", "client_credentials")])
            .await;
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(stack.me(0, token).await.0, StatusCode::OK);

        // Expiry has whole-second resolution; wait past the next boundary.
        tokio::time::sleep(Duration::from_millis(3100)).await;
        let (status, body) = stack.me(0, token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "reference={use_reference_tokens}"
        );
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(body["error_description"], "the access token expired");
    }
}

async fn switch_to_reference_keeps_users_logged_in(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::jwt()).await;
    let login = stack.login().await;
    let jwt = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(stack.me(0, &jwt).await.0, StatusCode::OK);

    stack.restart_auth(&[("UseReferenceTokens", "true")]).await;
    stack.restart_apis(&[("UseReferenceTokens", "true")]).await;

    // Every outstanding JWT stops working at once...
    assert_eq!(stack.me(0, &jwt).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(1, &jwt).await.0, StatusCode::UNAUTHORIZED);

    // ...but the refresh token yields a reference token without a new login.
    let (status, refreshed) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", login["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let reference = refreshed["access_token"].as_str().unwrap();
    assert_eq!(reference.split('.').count(), 1, "a reference handle");
    for index in 0..2 {
        let (status, me) = stack.me(index, reference).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["token_format"], "reference");
    }
}

async fn switch_back_to_jwt_keeps_reference_tokens(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let reference = login["access_token"].as_str().unwrap().to_owned();

    stack.restart_auth(&[("UseReferenceTokens", "false")]).await;
    stack.restart_apis(&[("UseReferenceTokens", "false")]).await;

    assert_eq!(stack.me(0, &reference).await.0, StatusCode::OK);
    let (status, refreshed) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", login["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let jwt = refreshed["access_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(stack.me(1, jwt).await.0, StatusCode::OK);

    // A reference token revoked after the switch back still stops at once.
    assert_eq!(stack.revoke(APP, &reference).await.0, StatusCode::OK);
    assert_eq!(stack.me(0, &reference).await.0, StatusCode::UNAUTHORIZED);
}

async fn discovery_states_token_format(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::jwt()).await;
    let url = format!("{}/.well-known/openid-configuration", stack.auth.url);
    let metadata: serde_json::Value = stack
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["access_token_format"], "jwt");
    assert_eq!(metadata["issuer"], "http://issuer.test");
    assert_eq!(
        metadata["token_endpoint"],
        "http://issuer.test/connect/token"
    );

    let jwks: serde_json::Value = stack
        .http
        .get(format!("{}/.well-known/jwks.json", stack.auth.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().is_some());
    assert!(jwks["keys"][0].get("d").is_none(), "no private parts");

    // A restarted Auth instance keeps the key from the database.
    stack.restart_auth(&[("UseReferenceTokens", "true")]).await;
    let url = format!("{}/.well-known/openid-configuration", stack.auth.url);
    let metadata: serde_json::Value = stack
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["access_token_format"], "reference");
    let again: serde_json::Value = stack
        .http
        .get(format!("{}/.well-known/jwks.json", stack.auth.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, jwks);
}
