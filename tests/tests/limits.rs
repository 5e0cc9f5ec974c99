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

/// A burst of password grants keeps every core busy with argon2 for as long
/// as it lasts. Token validation, at the Auth server and at the API, must
/// still respond about as fast as on an idle host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_burst_leaves_validation_fast() {
    let stack = Stack::start(
        Backend::Sqlite,
        with_env(&[("RateLimiting__Enabled", "false")]),
    )
    .await;
    let stack = std::sync::Arc::new(stack);
    let access = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let idle = validation_latencies(&stack, &access).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut burst = Vec::new();
    for _ in 0..16 {
        let stack = stack.clone();
        let stop = stop.clone();
        burst.push(tokio::spawn(async move {
            let mut logins = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                stack.login().await;
                logins += 1;
            }
            logins
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let busy = validation_latencies(&stack, &access).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut logins = 0;
    for task in burst {
        logins += task.await.unwrap();
    }
    assert!(logins > 0, "the burst ran");

    // Unbounded hashing measured 17 ms at the API and 33 ms at
    // introspection against 2 ms idle; bounded, both stay near idle.
    for (what, idle, busy) in [
        ("/api/me", idle.0, busy.0),
        ("introspection", idle.1, busy.1),
    ] {
        assert!(
            busy <= idle * 2.0 + 4.0,
            "{what}: median {busy:.1} ms during the burst, {idle:.1} ms idle"
        );
    }
}

/// Median latencies of `/api/me` and of introspection, in milliseconds.
async fn validation_latencies(stack: &Stack, access: &str) -> (f64, f64) {
    let mut me = Vec::new();
    let mut introspect = Vec::new();
    for _ in 0..40 {
        let started = std::time::Instant::now();
        assert_eq!(stack.me(0, access).await.0, StatusCode::OK);
        me.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = std::time::Instant::now();
        assert_eq!(stack.introspect(APP, access).await.0, StatusCode::OK);
        introspect.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    me.sort_by(f64::total_cmp);
    introspect.sort_by(f64::total_cmp);
    (me[me.len() / 2], introspect[introspect.len() / 2])
}
