//! Session management: users see and end their own sessions, operators
//! any session, user or client.

use integration_tests::stack::{ALICE, APP, BOB, OTHER, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_backends!(
    own_sessions_listed_with_current,
    end_one_own_session,
    end_all_own_sessions_keeping_current,
    other_users_session_not_found,
    admin_scope_required,
    admin_lists_and_ends_sessions,
    admin_ends_all_user_sessions,
    disabled_user_stops_at_once,
    disabled_client_stops_at_once,
    jwt_mode_notes_jwts_stay_valid,
);

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|session| session["id"].as_str().expect("id"))
        .collect()
}

async fn own_sessions_listed_with_current(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let first = stack.login().await;
    let second = stack.login_as(OTHER, ALICE).await;
    stack.login_as(APP, BOB).await;

    let token = first["access_token"].as_str().unwrap();
    let (status, list) = stack
        .auth_request(Method::GET, "/connect/sessions", token)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let sessions = list.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "only alice's sessions: {list}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one current session: {list}");
    assert_eq!(current[0]["client_id"], APP.0);
    for field in ["created", "last_seen", "expires"] {
        assert!(sessions[0][field].as_i64().is_some(), "{field}: {list}");
    }

    let (_, seen_from_second) = stack
        .auth_request(
            Method::GET,
            "/connect/sessions",
            second["access_token"].as_str().unwrap(),
        )
        .await;
    let current: Vec<&Value> = seen_from_second
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current[0]["client_id"], OTHER.0);
}

async fn end_one_own_session(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let first = stack.login().await;
    let second = stack.login().await;
    let first_token = first["access_token"].as_str().unwrap();
    let second_token = second["access_token"].as_str().unwrap();
    let (_, me) = stack.me(0, second_token).await;
    let second_sid = me["sid"].as_str().unwrap();

    let (status, body) = stack
        .auth_request(
            Method::DELETE,
            &format!("/connect/sessions/{second_sid}"),
            first_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ended_sessions"], 1);
    assert_eq!(
        body["revoked_tokens"], 2,
        "access and refresh token: {body}"
    );
    assert!(body.get("note").is_none(), "no JWT note in reference mode");

    for index in 0..2 {
        assert_eq!(
            stack.me(index, second_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(stack.me(index, first_token).await.0, StatusCode::OK);
    }
    let (status, _) = stack
        .auth_request(
            Method::DELETE,
            &format!("/connect/sessions/{second_sid}"),
            first_token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an ended session is gone");
}

async fn end_all_own_sessions_keeping_current(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let tokens: Vec<String> = {
        let mut tokens = Vec::new();
        for _ in 0..3 {
            tokens.push(
                stack.login().await["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        tokens
    };
    let bob = stack.login_as(APP, BOB).await;

    let (status, body) = stack
        .auth_request(
            Method::DELETE,
            "/connect/sessions?keep_current=true",
            &tokens[0],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ended_sessions"], 2);
    assert_eq!(stack.me(0, &tokens[0]).await.0, StatusCode::OK);
    assert_eq!(stack.me(1, &tokens[1]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(0, &tokens[2]).await.0, StatusCode::UNAUTHORIZED);

    let (status, body) = stack
        .auth_request(Method::DELETE, "/connect/sessions", &tokens[0])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ended_sessions"], 1);
    assert_eq!(stack.me(0, &tokens[0]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        stack.me(0, bob["access_token"].as_str().unwrap()).await.0,
        StatusCode::OK,
        "another user's sessions are untouched"
    );

    let (status, _) = stack
        .auth_request(
            Method::DELETE,
            "/connect/sessions?keep_current=maybe",
            bob["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn other_users_session_not_found(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let alice = stack.login().await;
    let bob = stack.login_as(APP, BOB).await;
    let bob_token = bob["access_token"].as_str().unwrap();
    let (_, me) = stack.me(0, bob_token).await;
    let (status, _) = stack
        .auth_request(
            Method::DELETE,
            &format!("/connect/sessions/{}", me["sid"].as_str().unwrap()),
            alice["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(stack.me(0, bob_token).await.0, StatusCode::OK);
}

async fn admin_scope_required(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    // The `all` scope is for the API and does not include `admin`.
    let user = stack.login().await;
    let (status, body) = stack
        .auth_request(
            Method::GET,
            "/admin/sessions",
            user["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "insufficient_scope");

    let response = stack
        .http
        .get(format!("{}/admin/sessions", stack.auth.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=\"auth\"")
    );
}

async fn admin_lists_and_ends_sessions(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let admin = stack.admin_token().await;
    let alice = stack.login().await;
    stack.login_as(OTHER, ALICE).await;
    stack.login_as(APP, BOB).await;

    let (status, all) = stack
        .auth_request(Method::GET, "/admin/sessions", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        ids(&all).len(),
        4,
        "three logins and the admin's own: {all}"
    );

    let (_, by_user) = stack
        .auth_request(Method::GET, "/admin/sessions?user=alice", &admin)
        .await;
    assert_eq!(ids(&by_user).len(), 2, "{by_user}");
    assert!(
        by_user
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["username"] == "alice")
    );

    let (_, by_both) = stack
        .auth_request(
            Method::GET,
            "/admin/sessions?user=alice&client=other",
            &admin,
        )
        .await;
    assert_eq!(ids(&by_both).len(), 1, "{by_both}");

    let (status, _) = stack
        .auth_request(Method::GET, "/admin/sessions?user=nobody", &admin)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let alice_token = alice["access_token"].as_str().unwrap();
    let (_, me) = stack.me(0, alice_token).await;
    let (status, body) = stack
        .auth_request(
            Method::DELETE,
            &format!("/admin/sessions/{}", me["sid"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stack.me(0, alice_token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(1, alice_token).await.0, StatusCode::UNAUTHORIZED);

    let (status, _) = stack
        .auth_request(Method::DELETE, "/admin/sessions/no-such-session", &admin)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn admin_ends_all_user_sessions(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let admin = stack.admin_token().await;
    let first = stack.login().await;
    let second = stack.login_as(OTHER, ALICE).await;
    let bob = stack.login_as(APP, BOB).await;

    let (status, body) = stack
        .auth_request(Method::DELETE, "/admin/users/alice/sessions", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ended_sessions"], 2);
    for login in [&first, &second] {
        let token = login["access_token"].as_str().unwrap();
        assert_eq!(stack.me(0, token).await.0, StatusCode::UNAUTHORIZED);
        let (status, _) = stack
            .token(
                if login == &first { APP } else { OTHER },
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", login["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        stack.me(0, bob["access_token"].as_str().unwrap()).await.0,
        StatusCode::OK
    );
}

async fn disabled_user_stops_at_once(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let admin = stack.admin_token().await;
    let login = stack.login().await;
    let token = login["access_token"].as_str().unwrap();

    let (status, body) = stack
        .auth_request(Method::POST, "/admin/users/alice/disable", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(stack.me(0, token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(stack.me(1, token).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "password"),
                ("username", ALICE.0),
                ("password", ALICE.1),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Enabling again restores the session: disabling ended nothing.
    let (status, _) = stack
        .auth_request(Method::POST, "/admin/users/alice/enable", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.me(0, token).await.0, StatusCode::OK);

    let (status, _) = stack
        .auth_request(Method::POST, "/admin/users/nobody/disable", &admin)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn disabled_client_stops_at_once(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let admin = stack.admin_token().await;
    let (_, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(stack.me(0, token).await.0, StatusCode::OK);

    let (status, body) = stack
        .auth_request(Method::POST, "/admin/clients/reader/disable", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stack.me(0, token).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, clients) = stack
        .auth_request(Method::GET, "/admin/clients", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let reader = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|client| client["id"] == READER.0)
        .unwrap();
    assert_eq!(reader["enabled"], false);

    let (status, users) = stack
        .auth_request(Method::GET, "/admin/users", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&users).len(), 2);
}

async fn jwt_mode_notes_jwts_stay_valid(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let first = stack.login().await;
    let second = stack.login().await;
    let first_token = first["access_token"].as_str().unwrap();
    let (status, body) = stack
        .auth_request(
            Method::DELETE,
            "/connect/sessions?keep_current=true",
            first_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["note"]
            .as_str()
            .is_some_and(|note| note.contains("until they expire")),
        "{body}"
    );
    // The JWT of the ended session lives on at the stateless API...
    assert_eq!(
        stack
            .me(0, second["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
    // ...but its refresh token is dead.
    let (status, _) = stack
        .token(
            APP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", second["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
