//! Bad input gets the standard error, never a 500 or a crash.

use integration_tests::stack::{ALICE, APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

on_both_backends!(
    token_endpoint_rejects_bad_requests,
    token_endpoint_rejects_bad_client_authentication,
    token_endpoint_rejects_large_and_binary_bodies,
    api_rejects_bad_authorization_headers,
    secrets_never_reach_logs,
);

/// Sends a raw body to the token endpoint with the APP client's Basic
/// credentials.
async fn post_token(
    stack: &Stack,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let response = stack
        .http
        .post(format!("{}/connect/token", stack.auth.url))
        .basic_auth(APP.0, Some(APP.1))
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

const FORM: &str = "application/x-www-form-urlencoded";

async fn token_endpoint_rejects_bad_requests(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let cases: [(&str, StatusCode, &str); 8] = [
        (
            "grant_type=implicit",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        ("scope=all", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "grant_type=password&password=x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=password&username=alice",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=refresh_token",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&scope=read%22tickets",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            "grant_type=refresh_token&refresh_token=unknown",
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
    ];
    for (body, expected_status, expected_error) in cases {
        let (status, json, headers) = post_token(&stack, FORM, body.into()).await;
        assert_eq!(status, expected_status, "{body}: {json}");
        assert_eq!(json["error"], expected_error, "{body}");
        assert!(json["error_description"].is_string(), "{body}");
        assert_eq!(headers["cache-control"], "no-store", "{body}");
    }

    let (status, json, _) = post_token(
        &stack,
        "application/json",
        br#"{"grant_type":"password"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_request");

    let response = stack
        .http
        .get(format!("{}/connect/token", stack.auth.url))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}

async fn token_endpoint_rejects_bad_client_authentication(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let url = format!("{}/connect/token", stack.auth.url);
    let form = [("grant_type", "client_credentials")];

    // Wrong secret, unknown client and no credentials look the same.
    let mut bodies = Vec::new();
    for credentials in [
        Some((READER.0, "wrong-secret-0123456789")),
        Some(("nobody", READER.1)),
        None,
    ] {
        let mut request = stack.http.post(&url).form(&form);
        if let Some((id, secret)) = credentials {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
        bodies.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(bodies[0]["error"], "invalid_client");
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);

    // Basic and client_secret together: two methods at once.
    let response = stack
        .http
        .post(&url)
        .basic_auth(READER.0, Some(READER.1))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", READER.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    for header in ["Basic !!!not-base64", "Basic bm9jb2xvbg=="] {
        let response = stack
            .http
            .post(&url)
            .header(AUTHORIZATION, header)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
    }

    // A disabled-by-grant client: the password grant for READER.
    let (status, body) = stack
        .token(
            READER,
            &[
                ("grant_type", "password"),
                ("username", ALICE.0),
                ("password", ALICE.1),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
}

async fn token_endpoint_rejects_large_and_binary_bodies(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;

    let mut large = b"grant_type=client_credentials&pad=".to_vec();
    large.resize(65 * 1024, b'a');
    let (status, json, _) = post_token(&stack, FORM, large).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["error"], "invalid_request");

    for body in [
        b"grant_type=client_credentials&scope=%FF".to_vec(),
        b"grant_type=client_credentials&scope=\xff\xfe".to_vec(),
        b"grant_type=\xc3".to_vec(),
    ] {
        let (status, json, _) = post_token(&stack, FORM, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(json["error"], "invalid_request", "{body:?}");
    }

    // The server is still healthy after all that.
    let (status, _) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn api_rejects_bad_authorization_headers(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let url = format!("{}/api/me", stack.apis[0].url);

    let response = stack.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"api\""
    );

    let long = format!("Bearer {}", "a".repeat(10_000));
    let cases: Vec<(HeaderValue, StatusCode, Option<&str>)> = vec![
        (
            HeaderValue::from_static("Basic YTpi"),
            StatusCode::UNAUTHORIZED,
            None,
        ),
        (
            HeaderValue::from_static("BearerX abc"),
            StatusCode::UNAUTHORIZED,
            None,
        ),
        (
            HeaderValue::from_static("Bearer"),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        (
            HeaderValue::from_static("Bearer a b"),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        (
            HeaderValue::from_static("Bearer a\"b"),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        (
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        (
            HeaderValue::from_static("Bearer garbage"),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        (
            HeaderValue::from_static("bearer a.b.c"),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        (
            HeaderValue::from_str(&long).unwrap(),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
    ];
    for (header, expected_status, expected_error) in cases {
        let response = stack
            .http
            .get(&url)
            .header(AUTHORIZATION, header.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected_status, "{header:?}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer realm=\"api\""),
            "{header:?}: {challenge}"
        );
        match expected_error {
            Some(error) => assert!(
                challenge.contains(&format!("error=\"{error}\"")),
                "{header:?}: {challenge}"
            ),
            None => assert!(!challenge.contains("error="), "{header:?}: {challenge}"),
        }
    }

    let response = stack
        .http
        .get(format!("{}/api/nothing-here", stack.apis[0].url))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
}

async fn secrets_never_reach_logs(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap();
    assert_eq!(stack.me(0, access).await.0, StatusCode::OK);
    stack.introspect(APP, access).await;
    let (_, refreshed) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    stack
        .revoke(APP, refreshed["access_token"].as_str().unwrap())
        .await;
    stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;

    let logs = stack.logs();
    assert!(logs.contains("issued tokens"), "the logs were captured");
    for secret in [
        access,
        refresh,
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        APP.1,
        ALICE.1,
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

mod timing {
    use std::time::{Duration, Instant};

    use integration_tests::stack::{ALICE, APP};
    use integration_tests::{Backend, Stack, StackOptions, on_both_backends};

    on_both_backends!(login_failures_take_equal_time);

    async fn median_login_time(stack: &Stack, username: &str, password: &str) -> Duration {
        let mut times = Vec::new();
        for _ in 0..9 {
            let started = Instant::now();
            let (_, body) = stack
                .token(
                    APP,
                    &[
                        ("grant_type", "password"),
                        ("username", username),
                        ("password", password),
                    ],
                )
                .await;
            times.push(started.elapsed());
            assert_eq!(body["error"], "invalid_grant");
        }
        times.sort();
        times[times.len() / 2]
    }

    /// An unknown user is checked against a dummy argon2 hash, so it takes
    /// as long as a wrong password. Without the dummy it would be tens of
    /// times faster, which the factor-of-two bound catches.
    async fn login_failures_take_equal_time(backend: Backend) {
        let stack = Stack::start(backend, StackOptions::reference()).await;
        let unknown = median_login_time(&stack, "nobody", ALICE.1).await;
        let wrong = median_login_time(&stack, ALICE.0, "wrong password").await;
        let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
        assert!(
            (0.5..2.0).contains(&ratio),
            "unknown user {unknown:?} vs wrong password {wrong:?}"
        );
    }
}
