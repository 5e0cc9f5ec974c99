//! The opt-in validation cache of API instances on PostgreSQL: cached
//! tokens are served without a query and dropped by the notices of every
//! kind of change, and a lost notice connection bypasses the cache.

use std::time::{Duration, Instant};

use integration_tests::stack::{ALICE, APP, READER};
use integration_tests::{Backend, Stack, StackOptions};
use reqwest::StatusCode;

const CACHE_HIT: &str = "access token found in the validation cache";

fn cached_options() -> StackOptions {
    StackOptions {
        env: vec![("Tokens__ValidationCache".into(), "true".into())],
        ..StackOptions::reference()
    }
}

async fn cached_stack(options: StackOptions) -> Option<Stack> {
    let backend @ Backend::Postgres(_) = Backend::postgres_from_env()? else {
        return None;
    };
    let stack = Stack::start(backend, options).await;
    // Each API instance starts using its cache once its notice connection
    // listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stack
        .apis
        .iter()
        .any(|api| !api.log().contains("validation cache in use"))
    {
        assert!(Instant::now() < deadline, "the caches never came into use");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some(stack)
}

fn cache_hits(stack: &Stack, api: usize) -> usize {
    stack.apis[api].log().matches(CACHE_HIT).count()
}

/// Calls `/api/me` on every instance until the token is rejected there.
/// Fails if that takes longer than the notice can plausibly need, or if
/// the token is accepted again after its first rejection.
async fn assert_rejected_everywhere(stack: &Stack, token: &str) {
    for api in 0..stack.apis.len() {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let (status, body) = stack.me(api, token).await;
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(
                Instant::now() < deadline,
                "API instance {api} still accepts the token"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for _ in 0..5 {
            assert_eq!(stack.me(api, token).await.0, StatusCode::UNAUTHORIZED);
        }
    }
}

/// Logs in and validates the access token once at each instance, so that
/// both have it cached.
async fn cached_login(stack: &Stack) -> serde_json::Value {
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap();
    for api in 0..stack.apis.len() {
        assert_eq!(stack.me(api, access).await.0, StatusCode::OK);
        let before = cache_hits(stack, api);
        assert_eq!(stack.me(api, access).await.0, StatusCode::OK);
        assert_eq!(cache_hits(stack, api), before + 1, "served from the cache");
    }
    login
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_tokens_skip_the_database() {
    let Some(stack) = cached_stack(cached_options()).await else {
        return;
    };
    let login = cached_login(&stack).await;
    let access = login["access_token"].as_str().unwrap();
    let before = cache_hits(&stack, 0);
    for _ in 0..20 {
        assert_eq!(stack.me(0, access).await.0, StatusCode::OK);
    }
    assert_eq!(cache_hits(&stack, 0), before + 20);

    // Tokens that are not live are never cached.
    for _ in 0..3 {
        assert_eq!(
            stack.me(0, "unknown-token").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(cache_hits(&stack, 0), before + 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_every_cache() {
    let Some(stack) = cached_stack(cached_options()).await else {
        return;
    };
    let login = cached_login(&stack).await;
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(stack.revoke(APP, access).await.0, StatusCode::OK);
    assert_rejected_everywhere(&stack, access).await;

    // Revoking a refresh token revokes the access tokens issued with it.
    let login = cached_login(&stack).await;
    let refresh = login["refresh_token"].as_str().unwrap();
    assert_eq!(stack.revoke(APP, refresh).await.0, StatusCode::OK);
    assert_rejected_everywhere(&stack, login["access_token"].as_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_and_disabled_accounts_reach_every_cache() {
    let Some(stack) = cached_stack(cached_options()).await else {
        return;
    };
    let login = cached_login(&stack).await;
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(stack.end_session(access).await.0, StatusCode::OK);
    assert_rejected_everywhere(&stack, access).await;

    let login = cached_login(&stack).await;
    let output = stack.admin(&["users", "disable", ALICE.0]).await;
    assert!(output.status.success(), "{output:?}");
    assert_rejected_everywhere(&stack, login["access_token"].as_str().unwrap()).await;

    let (status, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    for api in 0..2 {
        assert_eq!(stack.me(api, access).await.0, StatusCode::OK);
        assert_eq!(stack.me(api, access).await.0, StatusCode::OK);
    }
    let output = stack.admin(&["clients", "disable", READER.0]).await;
    assert!(output.status.success(), "{output:?}");
    assert_rejected_everywhere(&stack, access).await;
}

/// When the notice connection drops, notices may be lost, so the cache
/// must not be used. Calls fail with 503 like every other call while the
/// database is away, and after recovery a token revoked meanwhile is
/// rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notice_connection_bypasses_the_cache() {
    let options = StackOptions {
        via_proxy: true,
        ..cached_options()
    };
    let Some(stack) = cached_stack(options).await else {
        return;
    };
    let login = cached_login(&stack).await;
    let access = login["access_token"].as_str().unwrap();
    let proxy = stack.proxy.as_ref().expect("a proxy on PostgreSQL");

    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(3);
    for api in 0..2 {
        while !stack.apis[api].log().contains("validation cache bypassed") {
            assert!(Instant::now() < deadline, "instance {api} kept its cache");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            stack.me(api, access).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    proxy.restore();
    for server in std::iter::once(&stack.auth).chain(&stack.apis) {
        server.wait_ready().await;
    }
    assert_eq!(stack.revoke(APP, access).await.0, StatusCode::OK);
    assert_rejected_everywhere(&stack, access).await;
}

/// SQLite has no notices; the setting is ignored with a warning and every
/// call is checked in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ignores_the_setting() {
    let stack = Stack::start(Backend::Sqlite, cached_options()).await;
    let access = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        assert_eq!(stack.me(0, &access).await.0, StatusCode::OK);
    }
    assert!(stack.apis[0].log().contains("ignored on SQLite"));
    assert_eq!(cache_hits(&stack, 0), 0);
    assert_eq!(stack.revoke(APP, &access).await.0, StatusCode::OK);
    assert_eq!(stack.me(0, &access).await.0, StatusCode::UNAUTHORIZED);
}
