//! A mirrored deployment: two Auth and two API instances on one database,
//! and the rolling procedure for switching `UseReferenceTokens`.

use std::time::Duration;

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(
    tokens_and_logouts_cross_instances,
    cleanup_runs_on_both_auth_instances,
    rolling_switch_never_fails_twice,
    api_warns_when_mode_differs,
);

fn mirrored(use_reference_tokens: bool) -> StackOptions {
    StackOptions {
        use_reference_tokens,
        auth_replicas: 1,
        ..StackOptions::default()
    }
}

async fn login_at(stack: &Stack, auth: usize) -> Value {
    let response = stack
        .http
        .post(format!("{}/connect/token", stack.auth_url(auth)))
        .basic_auth(APP.0, Some(APP.1))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn tokens_and_logouts_cross_instances(backend: Backend) {
    let stack = Stack::start(backend, mirrored(true)).await;
    let login = login_at(&stack, 1).await;
    let token = login["access_token"].as_str().unwrap();
    for api in 0..2 {
        assert_eq!(stack.me(api, token).await.0, StatusCode::OK);
    }

    // End the session through the other Auth instance.
    let response = stack
        .http
        .post(format!("{}/connect/endsession", stack.auth_url(0)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for api in 0..2 {
        assert_eq!(stack.me(api, token).await.0, StatusCode::UNAUTHORIZED);
    }
    // Its refresh token is dead at both Auth instances.
    for auth in 0..2 {
        let response = stack
            .http
            .post(format!("{}/connect/token", stack.auth_url(auth)))
            .basic_auth(APP.0, Some(APP.1))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", login["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}

async fn cleanup_runs_on_both_auth_instances(backend: Backend) {
    let options = StackOptions {
        access_token_lifetime_seconds: 1,
        env: vec![
            ("Cleanup__IntervalSeconds".into(), "1".into()),
            ("Cleanup__RetentionSeconds".into(), "0".into()),
            ("Cleanup__BatchSize".into(), "5".into()),
        ],
        ..mirrored(true)
    };
    let stack = Stack::start(backend, options).await;
    for _ in 0..100 {
        let (status, _) = stack
            .token(READER, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    // Both jobs run every second. Their log lines add up to exactly what
    // was created: no row is missed and none is counted twice.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let logs = stack.logs();
        let tokens = sum_field(&logs, "tokens.deleted=");
        let sessions = sum_field(&logs, "sessions.deleted=");
        if tokens == 100 && sessions == 100 {
            break;
        }
        assert!(tokens <= 100, "tokens counted twice: {logs}");
        assert!(sessions <= 100, "sessions counted twice: {logs}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the jobs did not clean up: {tokens} tokens, {sessions} sessions"
        );
    }
    let output = stack
        .admin(&["tokens", "cleanup", "--retention-seconds", "0"])
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("deleted 0 tokens and 0 sessions"),
        "{stdout}"
    );
    let logs = stack.logs();
    assert!(!logs.contains("cleanup failed"), "{logs}");
    assert!(!logs.contains("ERROR"), "{logs}");
}

/// Adds up the numbers that follow `field` in log lines.
fn sum_field(logs: &str, field: &str) -> u64 {
    logs.split(field)
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

/// A client that calls the API through alternating instances and, on a
/// 401, refreshes once at alternating Auth instances and retries.
struct Client {
    access: String,
    refresh: String,
    calls: usize,
}

impl Client {
    /// Makes one call; fails the test if the retry after a refresh fails.
    async fn call(&mut self, stack: &Stack, step: &str) {
        let api = self.calls % stack.apis.len();
        self.calls += 1;
        if stack.me(api, &self.access).await.0 == StatusCode::OK {
            return;
        }
        let auth = self.calls % 2;
        let response = stack
            .http
            .post(format!("{}/connect/token", stack.auth_url(auth)))
            .basic_auth(APP.0, Some(APP.1))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", self.refresh.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "refresh during {step}");
        let body: Value = response.json().await.unwrap();
        self.access = body["access_token"].as_str().unwrap().to_owned();
        self.refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, me) = stack.me(api, &self.access).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "second failure in a row during {step}: {me}"
        );
    }

    async fn calls(&mut self, stack: &Stack, step: &str) {
        for _ in 0..4 {
            self.call(stack, step).await;
        }
    }
}

async fn rolling_switch_never_fails_twice(backend: Backend) {
    let mut stack = Stack::start(backend, mirrored(false)).await;
    let login = login_at(&stack, 0).await;
    let mut client = Client {
        access: login["access_token"].as_str().unwrap().to_owned(),
        refresh: login["refresh_token"].as_str().unwrap().to_owned(),
        calls: 0,
    };
    client.calls(&stack, "JWT mode").await;

    // To reference tokens: every Auth instance first, then the APIs.
    let on = [("UseReferenceTokens", "true")];
    for auth in 0..2 {
        stack.restart_auth_instance(auth, &on).await;
        client
            .calls(&stack, &format!("Auth {auth} switched on"))
            .await;
    }
    for api in 0..2 {
        stack.restart_api_instance(api, &on).await;
        client
            .calls(&stack, &format!("API {api} switched on"))
            .await;
    }
    assert!(
        !client.access.contains('.'),
        "the client now holds a reference token"
    );

    // Back to JWTs: every API instance first, then Auth.
    let off = [("UseReferenceTokens", "false")];
    for api in 0..2 {
        stack.restart_api_instance(api, &off).await;
        client
            .calls(&stack, &format!("API {api} switched off"))
            .await;
    }
    for auth in 0..2 {
        stack.restart_auth_instance(auth, &off).await;
        client
            .calls(&stack, &format!("Auth {auth} switched off"))
            .await;
    }
    // The reference token lives on; a refresh now yields a JWT.
    client.refresh_now(&stack).await;
    assert_eq!(client.access.split('.').count(), 3);
    client.calls(&stack, "JWT mode again").await;
}

impl Client {
    async fn refresh_now(&mut self, stack: &Stack) {
        let (status, body) = stack
            .token(
                APP,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", self.refresh.as_str()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.access = body["access_token"].as_str().unwrap().to_owned();
        self.refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
}

async fn api_warns_when_mode_differs(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::jwt()).await;
    assert!(!stack.apis[0].log().contains("UseReferenceTokens differs"));

    stack
        .restart_api_instance(
            0,
            &[
                ("UseReferenceTokens", "true"),
                ("Api__ModeCheckIntervalSeconds", "1"),
            ],
        )
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !stack.apis[0].log().contains("UseReferenceTokens differs") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no warning: {}",
            stack.apis[0].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !stack.apis[1].log().contains("UseReferenceTokens differs"),
        "the matching instance stays quiet"
    );
}
