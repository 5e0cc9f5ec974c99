//! Start-up: bad settings, an unreachable database, and concurrent first
//! starts against one empty database.

use std::time::Duration;

use integration_tests::binaries::binaries;
use integration_tests::database::TestDatabase;
use integration_tests::server::Server;
use integration_tests::stack::{READER, http_client, run_binary, write_settings};
use integration_tests::{Backend, StackOptions, on_both_backends};
use reqwest::StatusCode;

on_both_backends!(concurrent_first_start_succeeds, misspelt_key_is_logged);

const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

async fn concurrent_first_start_succeeds(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    let settings = write_settings(dir.path(), &database.url, &StackOptions::jwt());

    // Two Auth and two API servers race to migrate one empty database and
    // to create the signing key.
    let (auth_a, auth_b, api_a, api_b) = tokio::join!(
        Server::start(
            "auth-a",
            &binaries().auth_server,
            &settings,
            &[],
            dir.path()
        ),
        Server::start(
            "auth-b",
            &binaries().auth_server,
            &settings,
            &[],
            dir.path()
        ),
        Server::start("api-a", &binaries().api_server, &settings, &[], dir.path()),
        Server::start("api-b", &binaries().api_server, &settings, &[], dir.path()),
    );

    let http = http_client();
    let jwks_a: serde_json::Value = http
        .get(format!("{}/.well-known/jwks.json", auth_a.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks_b: serde_json::Value = http
        .get(format!("{}/.well-known/jwks.json", auth_b.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_a, jwks_b, "both Auth instances sign with one key");
    assert_eq!(jwks_a["keys"].as_array().map(Vec::len), Some(1));

    let output = run_binary(
        &binaries().auth_server,
        &[
            "--config",
            settings.to_str().unwrap(),
            "clients",
            "add",
            READER.0,
            "--secret",
            READER.1,
            "--grant-types",
            "client_credentials",
            "--scopes",
            "read:tickets",
        ],
        &[],
        EXIT_TIMEOUT,
    )
    .await;
    assert!(output.status.success());

    // A JWT from one Auth instance works at both API instances.
    let token: serde_json::Value = http
        .post(format!("{}/connect/token", auth_b.url))
        .basic_auth(READER.0, Some(READER.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    for api in [&api_a, &api_b] {
        let response = http
            .get(format!("{}/api/me", api.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn misspelt_key_is_logged(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    let settings_path = dir.path().join("appsettings.json");
    let settings = serde_json::json!({
        "UseReferenceToken": true,
        "ConnectionStrings": { "Default": database.url },
        "Api": { "Urls": "http://127.0.0.1:0" },
    });
    std::fs::write(&settings_path, settings.to_string()).unwrap();
    let server = Server::start(
        "api",
        &binaries().api_server,
        &settings_path,
        &[],
        dir.path(),
    )
    .await;
    let log = server.log();
    assert!(log.contains("unknown setting"), "{log}");
    assert!(log.contains("UseReferenceToken "), "{log}");
}

#[tokio::test]
async fn wrong_type_stops_with_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("appsettings.json");
    std::fs::write(
        &settings_path,
        r#"{"UseReferenceTokens": "yes", "ConnectionStrings": {"Default": "sqlite://x.db"}}"#,
    )
    .unwrap();
    for binary in [&binaries().auth_server, &binaries().api_server] {
        let output = run_binary(
            binary,
            &["--config", settings_path.to_str().unwrap()],
            &[],
            EXIT_TIMEOUT,
        )
        .await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("UseReferenceTokens"), "{stderr}");
        assert!(stderr.contains("\"yes\""), "{stderr}");
    }
}

#[tokio::test]
async fn environment_value_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("appsettings.json");
    std::fs::write(&settings_path, "{}").unwrap();
    let output = run_binary(
        &binaries().api_server,
        &["--config", settings_path.to_str().unwrap()],
        &[("TOKENS__ACCESSTOKENLIFETIMESECONDS", "soon")],
        EXIT_TIMEOUT,
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Tokens:AccessTokenLifetimeSeconds"),
        "{stderr}"
    );

    let output = run_binary(
        &binaries().api_server,
        &["--config", settings_path.to_str().unwrap()],
        &[("Api__Urls", "ftp://127.0.0.1:1")],
        EXIT_TIMEOUT,
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Api:Urls"), "{stderr}");
}

#[tokio::test]
async fn unreachable_database_stops_with_masked_url() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("appsettings.json");
    std::fs::write(&settings_path, "{}").unwrap();
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://tokens:hunter2-secret@127.0.0.1:1/tokens";
    for binary in [&binaries().auth_server, &binaries().api_server] {
        let output = run_binary(
            binary,
            &["--config", settings_path.to_str().unwrap()],
            &[("ConnectionStrings__Default", url)],
            EXIT_TIMEOUT,
        )
        .await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("postgres://tokens:***@127.0.0.1:1/tokens"),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2-secret"), "{stderr}");
    }
}

#[tokio::test]
async fn missing_settings_file_named() {
    let output = run_binary(
        &binaries().auth_server,
        &["--config", "/nonexistent/appsettings.json", "migrate"],
        &[],
        EXIT_TIMEOUT,
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/appsettings.json"), "{stderr}");
}
