//! Exact RFC behaviour at the edges: client authentication encoding
//! (RFC 6749 §2.3.1, RFC 7617 §2), hints (RFC 7009 §2.1, RFC 7662 §2.1),
//! inactive tokens (RFC 7662 §2.2) and Bearer transport (RFC 6750 §2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use integration_tests::stack::{ADMIN, ALICE, APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    basic_credentials_are_form_decoded,
    revocation_hint_is_only_a_hint,
    introspection_hint_is_only_a_hint,
    inactive_tokens_say_only_inactive,
    repeated_parameters_rejected_everywhere,
    bearer_token_elsewhere_rejected,
);

/// Percent-encodes every byte outside the unreserved set, as
/// application/x-www-form-urlencoded requires for Basic credentials.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn token_with_basic(stack: &Stack, user_pass: &str) -> StatusCode {
    stack
        .http
        .post(format!("{}/connect/token", stack.auth.url))
        .header(
            AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(user_pass)),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

async fn basic_credentials_are_form_decoded(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let secret = "p%ss:w0rd+with:colons&more=";
    let output = stack
        .admin(&[
            "clients",
            "add",
            "odd.client~1",
            "--secret",
            secret,
            "--grant-types",
            "client_credentials",
        ])
        .await;
    assert!(output.status.success());

    let encoded = format!("{}:{}", form_encode("odd.client~1"), form_encode(secret));
    assert_eq!(token_with_basic(&stack, &encoded).await, StatusCode::OK);

    // The user-id ends at the first colon; the rest, colons and all, is the
    // secret. Unencoded '%' and '+' decode to something else, so fail.
    let raw = format!("odd.client~1:{secret}");
    assert_eq!(
        token_with_basic(&stack, &raw).await,
        StatusCode::UNAUTHORIZED
    );

    let colons = "colon-secret:with:colons";
    let output = stack
        .admin(&[
            "clients",
            "add",
            "colons",
            "--secret",
            colons,
            "--grant-types",
            "client_credentials",
        ])
        .await;
    assert!(output.status.success());
    assert_eq!(
        token_with_basic(&stack, &format!("colons:{colons}")).await,
        StatusCode::OK
    );
}

async fn revoke_with_hint(stack: &Stack, token: &str, hint: &str) -> StatusCode {
    stack
        .http
        .post(format!("{}/connect/revocation", stack.auth.url))
        .basic_auth(APP.0, Some(APP.1))
        .form(&[("token", token), ("token_type_hint", hint)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn revocation_hint_is_only_a_hint(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    for hint in ["refresh_token", "access_token", "bogus"] {
        let login = stack.login().await;
        let access = login["access_token"].as_str().unwrap();
        assert_eq!(
            revoke_with_hint(&stack, access, "refresh_token").await,
            StatusCode::OK
        );
        assert_eq!(
            stack.me(0, access).await.0,
            StatusCode::UNAUTHORIZED,
            "{hint}"
        );

        let refresh = login["refresh_token"].as_str().unwrap();
        assert_eq!(
            revoke_with_hint(&stack, refresh, hint).await,
            StatusCode::OK
        );
        let (status, _) = stack
            .token(
                APP,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hint}");
    }
}

async fn introspection_hint_is_only_a_hint(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    for (token, hint) in [
        (login["access_token"].as_str().unwrap(), "refresh_token"),
        (login["refresh_token"].as_str().unwrap(), "access_token"),
        (login["access_token"].as_str().unwrap(), "bogus"),
    ] {
        let body: Value = stack
            .http
            .post(format!("{}/connect/introspect", stack.auth.url))
            .basic_auth(APP.0, Some(APP.1))
            .form(&[("token", token), ("token_type_hint", hint)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["active"], true, "{hint}");
    }
}

async fn inactive_tokens_say_only_inactive(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let admin = stack.admin_token().await;
    let inactive = json!({"active": false});

    // Ended session.
    let ended = stack.login().await;
    let ended_token = ended["access_token"].as_str().unwrap();
    assert_eq!(stack.end_session(ended_token).await.0, StatusCode::OK);
    assert_eq!(stack.introspect(READER, ended_token).await.1, inactive);

    // Disabled user, then enabled again.
    let user = stack.login().await;
    let user_token = user["access_token"].as_str().unwrap();
    stack
        .auth_request(Method::POST, "/admin/users/alice/disable", &admin)
        .await;
    assert_eq!(stack.introspect(READER, user_token).await.1, inactive);
    stack
        .auth_request(Method::POST, "/admin/users/alice/enable", &admin)
        .await;
    assert_eq!(stack.introspect(READER, user_token).await.1["active"], true);

    // Disabled client: its token is inactive to every other client.
    let (_, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    let reader_token = body["access_token"].as_str().unwrap();
    stack
        .auth_request(Method::POST, "/admin/clients/reader/disable", &admin)
        .await;
    assert_eq!(stack.introspect(ADMIN, reader_token).await.1, inactive);

    // Truncated and extended versions of a live token.
    let live = stack.login_as(APP, ALICE).await;
    let live_token = live["access_token"].as_str().unwrap();
    for token in [
        &live_token[..live_token.len() - 1],
        &format!("{live_token}A"),
    ] {
        assert_eq!(stack.introspect(ADMIN, token).await.1, inactive);
    }
}

async fn repeated_parameters_rejected_everywhere(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    for path in [
        "/connect/token",
        "/connect/revocation",
        "/connect/introspect",
    ] {
        let response = stack
            .http
            .post(format!("{}{path}", stack.auth.url))
            .basic_auth(APP.0, Some(APP.1))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("token=a&token=b&grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
}

async fn bearer_token_elsewhere_rejected(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/api/me", stack.apis[0].url);

    let cases = [
        stack
            .http
            .get(format!("{url}?access_token={token}"))
            .bearer_auth(&token),
        stack.http.get(format!("{url}?access_token={token}")),
        stack.http.get(format!("{url}?access%5Ftoken={token}")),
        stack
            .http
            .get(&url)
            .bearer_auth(&token)
            .form(&[("access_token", token.as_str())]),
    ];
    for (index, request) in cases.into_iter().enumerate() {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "case {index}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains("error=\"invalid_request\""),
            "case {index}"
        );
    }
    assert_eq!(stack.me(0, &token).await.0, StatusCode::OK);
}
