//! Overload protection: rate limits, which return 429 with `Retry-After`.

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(
    address_limit_answers_429,
    client_limit_spares_other_clients,
    limits_can_be_disabled,
);

fn with_env(env: &[(&str, &str)]) -> StackOptions {
    StackOptions {
        env: env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        ..StackOptions::reference()
    }
}

async fn client_credentials(stack: &Stack, client: (&str, &str)) -> reqwest::Response {
    stack
        .http
        .post(format!("{}/connect/token", stack.auth.url))
        .basic_auth(client.0, Some(client.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn address_limit_answers_429(backend: Backend) {
    let options = with_env(&[
        ("RateLimiting__PerAddressPerSecond", "1"),
        ("RateLimiting__PerAddressBurst", "3"),
    ]);
    let stack = Stack::start(backend, options).await;
    for _ in 0..3 {
        assert_eq!(
            client_credentials(&stack, READER).await.status(),
            StatusCode::OK
        );
    }
    let response = client_credentials(&stack, READER).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");

    // Introspection and revocation count against the same address...
    let (status, _) = stack.introspect(APP, "anything").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ...but the API and the health checks do not.
    let response = stack
        .http
        .get(format!("{}/health/ready", stack.auth.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn client_limit_spares_other_clients(backend: Backend) {
    let options = with_env(&[
        ("RateLimiting__PerClientPerSecond", "1"),
        ("RateLimiting__PerClientBurst", "2"),
    ]);
    let stack = Stack::start(backend, options).await;
    for _ in 0..2 {
        assert_eq!(
            client_credentials(&stack, READER).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        client_credentials(&stack, READER).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        client_credentials(&stack, APP).await.status(),
        StatusCode::OK
    );

    // Wrong secrets for a client do not use up its quota.
    let wrong = (APP.0, "wrong-secret-0123456789");
    for _ in 0..5 {
        assert_eq!(
            client_credentials(&stack, wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        client_credentials(&stack, APP).await.status(),
        StatusCode::OK
    );
}

async fn limits_can_be_disabled(backend: Backend) {
    let options = with_env(&[
        ("RateLimiting__Enabled", "false"),
        ("RateLimiting__PerAddressPerSecond", "1"),
        ("RateLimiting__PerAddressBurst", "1"),
    ]);
    let stack = Stack::start(backend, options).await;
    for _ in 0..5 {
        assert_eq!(
            client_credentials(&stack, READER).await.status(),
            StatusCode::OK
        );
    }
}
