//! Revocation (RFC 7009) and ending sessions take effect on the next call
//! at every API instance.

use integration_tests::stack::{APP, OTHER, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(
    revoked_access_token_rejected_everywhere,
    revoked_refresh_token_revokes_its_access_tokens,
    ended_session_rejected_everywhere,
    end_session_in_jwt_mode_stops_refresh,
    revocation_of_unknown_token_is_ok,
    revocation_by_other_client_rejected,
    revocation_of_jwt_is_unsupported,
    revocation_needs_client_authentication,
);

async fn revoked_access_token_rejected_everywhere(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let token = login["access_token"].as_str().unwrap();
    for index in 0..2 {
        assert_eq!(stack.me(index, token).await.0, StatusCode::OK);
    }

    let (status, _) = stack.revoke(APP, token).await;
    assert_eq!(status, StatusCode::OK);
    for index in 0..2 {
        let (status, body) = stack.me(index, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "instance {index}");
        assert_eq!(body["error"], "invalid_token");
    }

    // Revoking an access token leaves the refresh token alone.
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", login["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn revoked_refresh_token_revokes_its_access_tokens(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap();

    let (status, _) = stack.revoke(APP, refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.me(0, access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(1, access).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

async fn ended_session_rejected_everywhere(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap();
    // A second access token of the same session, from a refresh.
    let (_, refreshed) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    let second = refreshed["access_token"].as_str().unwrap();

    let (status, body) = stack.end_session(access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["revoked_tokens"].as_u64().is_some_and(|n| n >= 2),
        "{body}"
    );

    for token in [access, second] {
        for index in 0..2 {
            assert_eq!(stack.me(index, token).await.0, StatusCode::UNAUTHORIZED);
        }
    }
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    refreshed["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The token of an ended session cannot end it again.
    let (status, _) = stack.end_session(access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn end_session_in_jwt_mode_stops_refresh(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let login = stack.login().await;
    let jwt = login["access_token"].as_str().unwrap();

    let (status, body) = stack.end_session(jwt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["note"]
            .as_str()
            .is_some_and(|note| note.contains("until they expire")),
        "the response must say that JWTs stay valid: {body}"
    );
    // The JWT itself stays valid until it expires: that is the JWT trade-off.
    assert_eq!(stack.me(0, jwt).await.0, StatusCode::OK);
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", login["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn revocation_of_unknown_token_is_ok(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let (status, _) = stack.revoke(APP, "no-such-token").await;
    assert_eq!(status, StatusCode::OK);

    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.revoke(APP, &token).await.0, StatusCode::OK);
    assert_eq!(
        stack.revoke(APP, &token).await.0,
        StatusCode::OK,
        "revoking twice is fine"
    );
}

async fn revocation_by_other_client_rejected(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = stack.revoke(OTHER, &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(stack.me(0, &token).await.0, StatusCode::OK);
}

async fn revocation_of_jwt_is_unsupported(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let (_, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    let jwt = body["access_token"].as_str().unwrap();
    let (status, body) = stack.revoke(READER, jwt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_token_type");
}

async fn revocation_needs_client_authentication(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = stack
        .http
        .post(format!("{}/connect/revocation", stack.auth.url))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = stack
        .revoke((APP.0, "wrong-secret-0123456789"), &token)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(0, &token).await.0, StatusCode::OK);
}
