//! A database that cannot be reached is a 503, never a 401 or a 200.

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions};
use reqwest::StatusCode;

/// Drops the PostgreSQL database under running services: their connections
/// are cut and every reconnect fails, as in an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres_from_env() else {
        return;
    };
    let mut stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(stack.me(0, &access).await.0, StatusCode::OK);

    stack.database.drop_now();

    let response = stack
        .http
        .get(format!("{}/api/me", stack.apis[0].url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));

    for server in [&stack.auth, &stack.apis[1]] {
        let response = stack
            .http
            .get(format!("{}/health/ready", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = stack
            .http
            .get(format!("{}/health/live", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    let (status, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "temporarily_unavailable");

    let (status, _) = stack.introspect(APP, &access).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = stack.revoke(APP, &access).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
