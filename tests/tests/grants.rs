//! The token endpoint: every grant, in both token formats.

use integration_tests::stack::{ALICE, APP, OTHER, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(
    client_credentials_reference,
    client_credentials_jwt,
    password_grant_issues_refresh_token,
    refresh_rotates_tokens,
    refresh_token_reuse_ends_session,
    refresh_narrows_scope,
    refresh_by_other_client_rejected,
    client_secret_post_works,
    scope_outside_client_rejected,
    grant_not_allowed_for_client,
    wrong_password_rejected,
);

fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

async fn client_credentials_reference(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let (status, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert!(!is_jwt(token));
    assert_eq!(token.len(), 43, "256 bits in base64url");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read:tickets");
    assert!(body.get("refresh_token").is_none());

    let (status, me) = stack.me(0, token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["sub"], READER.0);
    assert_eq!(me["client_id"], READER.0);
    assert_eq!(me["token_format"], "reference");
}

async fn client_credentials_jwt(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let (status, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert!(is_jwt(token));

    let (status, me) = stack.me(1, token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["token_format"], "jwt");
    assert_eq!(me["client_id"], READER.0);
    assert_eq!(me["scope"], "read:tickets");
}

async fn password_grant_issues_refresh_token(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let body = stack.login().await;
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() == 43)
    );
    assert_eq!(body["scope"], "all read:tickets edit:tickets");

    let (status, me) = stack.me(0, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_ne!(
        me["sub"], ALICE.0,
        "sub is the stable user id, not the name"
    );
    assert!(me["sid"].as_str().is_some_and(|sid| !sid.is_empty()));
}

async fn refresh_rotates_tokens(backend: Backend) {
    for options in [StackOptions::reference(), StackOptions::jwt()] {
        let stack = Stack::start(backend.clone(), options).await;
        let login = stack.login().await;
        let refresh_token = login["refresh_token"].as_str().unwrap();

        let (status, refreshed) = stack
            .token(
                APP,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        let new_refresh = refreshed["refresh_token"].as_str().unwrap();
        assert_ne!(new_refresh, refresh_token);

        let (status, me) = stack
            .me(0, refreshed["access_token"].as_str().unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");
        let (_, old_me) = stack.me(0, login["access_token"].as_str().unwrap()).await;
        assert_eq!(me["sid"], old_me["sid"], "a refresh stays in its session");
    }
}

async fn refresh_token_reuse_ends_session(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let first = login["refresh_token"].as_str().unwrap();
    let (status, rotated) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    // Reuse means the token leaked: the whole session is gone.
    let second = rotated["refresh_token"].as_str().unwrap();
    let (status, body) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", second)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = stack.me(0, rotated["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn refresh_narrows_scope(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let refresh_token = login["refresh_token"].as_str().unwrap();

    let (status, body) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("scope", "read:tickets"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "read:tickets");

    // The new refresh token keeps the original scope (RFC 6749 §6).
    let (status, body) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
                ("scope", "edit:tickets"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "edit:tickets");

    let (status, body) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
                ("scope", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");
}

async fn refresh_by_other_client_rejected(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let refresh_token = login["refresh_token"].as_str().unwrap();
    let (status, body) = stack
        .token(
            OTHER,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    // The rightful client can still use it.
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn client_secret_post_works(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let response = stack
        .http
        .post(format!("{}/connect/token", stack.auth.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "token responses must not be cached"
    );
}

async fn scope_outside_client_rejected(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let (status, body) = stack
        .token(
            READER,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "edit:tickets"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");
}

async fn grant_not_allowed_for_client(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
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

async fn wrong_password_rejected(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    for (username, password) in [(ALICE.0, "wrong"), ("nobody", ALICE.1)] {
        let (status, body) = stack
            .token(
                APP,
                &[
                    ("grant_type", "password"),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(
            body["error_description"],
            "the username or password is incorrect"
        );
    }
}

mod races {
    use integration_tests::stack::APP;
    use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
    use reqwest::StatusCode;

    on_both_backends!(concurrent_refresh_single_winner);

    /// Of many simultaneous refreshes with one token, exactly one wins; the
    /// others are reuse, which ends the session (RFC 9700 §4.14.2).
    async fn concurrent_refresh_single_winner(backend: Backend) {
        let stack = Stack::start(backend, StackOptions::reference()).await;
        for round in 0..3 {
            let login = stack.login().await;
            let refresh_token = login["refresh_token"].as_str().unwrap().to_owned();
            let url = format!("{}/connect/token", stack.auth.url);
            let requests = (0..8).map(|_| {
                let http = stack.http.clone();
                let url = url.clone();
                let refresh_token = refresh_token.clone();
                tokio::spawn(async move {
                    http.post(url)
                        .basic_auth(APP.0, Some(APP.1))
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", refresh_token.as_str()),
                        ])
                        .send()
                        .await
                        .map(|response| response.status())
                })
            });
            let mut statuses = Vec::new();
            for request in requests.collect::<Vec<_>>() {
                statuses.push(request.await.unwrap().unwrap());
            }
            let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
            let losers = statuses
                .iter()
                .filter(|s| **s == StatusCode::BAD_REQUEST)
                .count();
            assert_eq!(winners, 1, "round {round}: {statuses:?}");
            assert_eq!(losers, 7, "round {round}: {statuses:?}");
        }
    }
}
