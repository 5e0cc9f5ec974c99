//! Faults: a database outage and recovery, restarts, and draining on
//! SIGTERM.

use std::time::Duration;

use integration_tests::stack::{APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    revocation_survives_full_restart,
    sigterm_drains_in_flight_request
);

/// Cuts the connection to PostgreSQL under running services: every call
/// that needs the database is a 503, never a 401 or a 200, and everything
/// recovers by itself once the connection is back, with no acknowledged
/// revocation lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_and_recovery() {
    let Some(backend @ Backend::Postgres(_)) = Backend::postgres_from_env() else {
        return;
    };
    let options = StackOptions {
        via_proxy: true,
        ..StackOptions::reference()
    };
    let stack = Stack::start(backend, options).await;
    let proxy = stack.proxy.as_ref().expect("a proxy on PostgreSQL");
    let live = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.revoke(APP, &revoked).await.0, StatusCode::OK);

    proxy.cut();
    assert_outage(&stack, &live).await;

    proxy.restore();
    assert_recovered(&stack, &live, &revoked).await;
}

/// Moves the SQLite file away under running services. A connection that
/// stays open on a moved file would serve stale reads and lose its writes,
/// so every call is a 503 until the file is back. Then all recovers
/// without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_moved_away_and_back() {
    let options = StackOptions {
        env: vec![("Database__ConnectionTimeoutSeconds".into(), "1".into())],
        ..StackOptions::reference()
    };
    let stack = Stack::start(Backend::Sqlite, options).await;
    let live = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.revoke(APP, &revoked).await.0, StatusCode::OK);
    for api in 0..2 {
        assert_eq!(stack.me(api, &live).await.0, StatusCode::OK);
    }

    let path = stack.database.sqlite_path().expect("a SQLite database");
    let away = path.with_extension("away");
    std::fs::rename(&path, &away).expect("move the database file away");
    // Each connection checks its file at most every 100 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_outage(&stack, &live).await;
    assert!(
        !path.exists(),
        "no service may create a new, empty database in its place"
    );

    std::fs::rename(&away, &path).expect("move the database file back");
    assert_recovered(&stack, &live, &revoked).await;
}

/// Every call that needs the database returns 503, never 401 or 200, and
/// both services report themselves not ready.
async fn assert_outage(stack: &Stack, live: &str) {
    for api in 0..2 {
        let (status, _) = stack.me(api, live).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let (status, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        stack.introspect(APP, live).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for url in [&stack.auth.url, &stack.apis[0].url] {
        let response = stack
            .http
            .get(format!("{url}/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

/// Once the database is back, every service recovers by itself and the
/// revocation acknowledged before the outage still holds.
async fn assert_recovered(stack: &Stack, live: &str, revoked: &str) {
    for server in std::iter::once(&stack.auth).chain(&stack.apis) {
        server.wait_ready().await;
    }
    for api in 0..2 {
        assert_eq!(stack.me(api, live).await.0, StatusCode::OK);
        assert_eq!(stack.me(api, revoked).await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn revocation_survives_full_restart(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::reference()).await;
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(stack.revoke(APP, &refresh).await.0, StatusCode::OK);

    stack.restart_auth(&[]).await;
    stack.restart_apis(&[]).await;

    assert_eq!(stack.me(0, &access).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = stack
        .token(
            APP,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A request whose body is still arriving when SIGTERM comes is finished
/// before the process exits.
async fn sigterm_drains_in_flight_request(backend: Backend) {
    let mut stack = Stack::start(backend, StackOptions::reference()).await;
    let address = stack.auth.url.trim_start_matches("http://").to_owned();
    let body = "grant_type=client_credentials";
    let credentials = "cmVhZGVyOnJlYWRlci1zZWNyZXQtMDEyMzQ1Njc4OQ==";
    assert_eq!(
        credentials,
        base64_of(&format!("{}:{}", READER.0, READER.1)),
        "the Basic credentials of READER"
    );

    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /connect/token HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Basic {credentials}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body.as_bytes()[..5]).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    stack.auth.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    socket.write_all(&body.as_bytes()[5..]).await.unwrap();

    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("access_token"), "{response}");

    let status = stack.auth.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status}");
    assert!(stack.auth.log().contains("the Auth server stopped"));
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// With one pooled connection stuck behind a table lock, requests return
/// 503 with `Retry-After` within the pool and statement timeouts instead of
/// queueing, and the service recovers when the lock goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_exhaustion_answers_503_quickly() {
    use diesel::{Connection, PgConnection, RunQueryDsl};

    let Some(backend @ Backend::Postgres(_)) = Backend::postgres_from_env() else {
        return;
    };
    let options = StackOptions {
        env: vec![
            ("Database__MaxConnections".into(), "1".into()),
            ("Database__StatementTimeoutSeconds".into(), "3".into()),
        ],
        ..StackOptions::reference()
    };
    let stack = Stack::start(backend, options).await;
    let token = stack.login().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.me(0, &token).await.0, StatusCode::OK);

    let url = stack.database.url.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut conn = PgConnection::establish(&url).expect("connect to the test database");
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::sql_query("LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE").execute(conn)?;
            locked_tx.send(()).expect("signal the lock");
            release_rx.recv().ok();
            Ok(())
        })
        .expect("lock transaction");
    });
    locked_rx.recv().expect("the table is locked");

    let started = std::time::Instant::now();
    let calls = (0..3).map(|_| {
        let http = stack.http.clone();
        let url = format!("{}/api/me", stack.apis[0].url);
        let token = token.clone();
        tokio::spawn(async move {
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            (
                response.status(),
                response.headers().contains_key("retry-after"),
            )
        })
    });
    for call in calls.collect::<Vec<_>>() {
        let (status, retry_after) = call.await.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry_after);
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(15), "answers took {waited:?}");

    release_tx.send(()).expect("release the lock");
    holder.join().expect("lock holder");
    assert_eq!(stack.me(0, &token).await.0, StatusCode::OK);
}

/// SQLite has no server to lose, but another process can hold its write
/// lock: token issuance and revocation then return 503 after the statement
/// timeout, never 500, while reads in WAL mode go on, and all recovers when
/// the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_write_lock_answers_503() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};

    let options = StackOptions {
        env: vec![("Database__StatementTimeoutSeconds".into(), "1".into())],
        ..StackOptions::reference()
    };
    let stack = Stack::start(Backend::Sqlite, options).await;
    let login = stack.login().await;
    let access = login["access_token"].as_str().unwrap().to_owned();

    let path = stack.database.sqlite_path().expect("a SQLite database");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut conn =
            SqliteConnection::establish(&path.to_string_lossy()).expect("open the test database");
        conn.batch_execute("BEGIN IMMEDIATE")
            .expect("take the write lock");
        locked_tx.send(()).expect("signal the lock");
        release_rx.recv().ok();
        conn.batch_execute("COMMIT")
            .expect("release the write lock");
    });
    locked_rx.recv().expect("the write lock is held");

    let (status, body) = stack
        .token(READER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(
        stack.revoke(APP, &access).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(stack.me(0, &access).await.0, StatusCode::OK, "reads go on");

    release_tx.send(()).expect("release");
    holder.join().expect("lock holder");
    assert_eq!(stack.revoke(APP, &access).await.0, StatusCode::OK);
    assert_eq!(stack.me(1, &access).await.0, StatusCode::UNAUTHORIZED);
}
