//! The API: `/api/me`, tickets and scopes, on two instances.

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    me_works_on_both_instances,
    tickets_crud,
    tickets_need_scopes,
    tickets_reject_bad_bodies,
    jwt_rejected_in_reference_mode,
    reference_token_accepted_in_jwt_mode,
    jwt_with_wrong_audience_rejected,
);

async fn me_works_on_both_instances(backend: Backend) {
    for options in [StackOptions::reference(), StackOptions::jwt()] {
        let expected_format = if options.use_reference_tokens {
            "reference"
        } else {
            "jwt"
        };
        let stack = Stack::start(backend.clone(), options).await;
        let login = stack.login().await;
        let token = login["access_token"].as_str().unwrap();
        for index in 0..2 {
            let (status, me) = stack.me(index, token).await;
            assert_eq!(status, StatusCode::OK, "{me}");
            assert_eq!(me["token_format"], expected_format);
            assert_eq!(me["client_id"], APP.0);
            assert_eq!(me["scope"], "all read:tickets edit:tickets");
            assert!(me["exp"].as_i64().is_some());
            for field in ["sub", "sid"] {
                assert!(me[field].as_str().is_some_and(|v| !v.is_empty()), "{field}");
            }
        }
    }
}

async fn tickets_crud(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = |index: usize| stack.apis[index].url.clone();

    let response = stack
        .http
        .post(format!("{}/api/tickets", api(0)))
        .bearer_auth(&token)
        .json(&json!({"summary": "Printer on fire", "details": "3rd floor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["status"], "open");
    assert_eq!(created["summary"], "Printer on fire");
    let id = created["id"].as_str().unwrap().to_owned();

    // The other instance returns it too, because the data is in the shared
    // database.
    let fetched: Value = stack
        .http
        .get(format!("{}/api/tickets/{id}", api(1)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);

    let response = stack
        .http
        .patch(format!("{}/api/tickets/{id}", api(1)))
        .bearer_auth(&token)
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["status"], "closed");
    assert_eq!(patched["details"], "3rd floor");

    let list: Value = stack
        .http
        .get(format!("{}/api/tickets", api(0)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    let response = stack
        .http
        .delete(format!("{}/api/tickets/{id}", api(0)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = stack
        .http
        .get(format!("{}/api/tickets/{id}", api(0)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn tickets_need_scopes(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::jwt()).await;
    let (_, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    let reader = body["access_token"].as_str().unwrap();

    let response = stack
        .http
        .get(format!("{}/api/tickets", stack.apis[0].url))
        .bearer_auth(reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = stack
        .http
        .post(format!("{}/api/tickets", stack.apis[0].url))
        .bearer_auth(reader)
        .json(&json!({"summary": "not allowed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"edit:tickets\""), "{challenge}");

    // A token with only edit:tickets cannot read.
    let (_, body) = stack
        .token(
            APP,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "edit:tickets"),
            ],
        )
        .await;
    let editor = body["access_token"].as_str().unwrap();
    let response = stack
        .http
        .get(format!("{}/api/tickets", stack.apis[1].url))
        .bearer_auth(editor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

async fn tickets_reject_bad_bodies(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/api/tickets", stack.apis[0].url);
    let cases = [
        json!({"summary": ""}),
        json!({"summary": "x", "status": "burning"}),
        json!({"summary": "x", "priority": 1}),
        json!({"details": "no summary"}),
    ];
    for body in cases {
        let response = stack
            .http
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{body}");
    }

    let response = stack
        .http
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = stack
        .http
        .get(format!("{url}?limit=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A bad token wins over a bad body: authentication comes first.
    let response = stack
        .http
        .post(&url)
        .bearer_auth("not-a-real-token")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn jwt_rejected_in_reference_mode(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::jwt()).await;
    let login = stack.login().await;
    let jwt = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(stack.me(0, &jwt).await.0, StatusCode::OK);

    stack.restart_apis(&[("UseReferenceTokens", "true")]).await;
    for index in 0..2 {
        let response = stack
            .http
            .get(format!("{}/api/me", stack.apis[index].url))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
}

async fn reference_token_accepted_in_jwt_mode(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let token = login["access_token"].as_str().unwrap().to_owned();

    stack.restart_apis(&[("UseReferenceTokens", "false")]).await;
    let (status, me) = stack.me(1, &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["token_format"], "reference");
}

async fn jwt_with_wrong_audience_rejected(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::jwt()).await;
    let jwt = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    stack
        .restart_apis(&[("Api__Audience", "another-api")])
        .await;
    let (status, body) = stack.me(0, &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");

    stack
        .restart_apis(&[("Auth__Issuer", "http://other-issuer.test")])
        .await;
    let (status, _) = stack.me(0, &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
