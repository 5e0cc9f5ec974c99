//! Replays the committed fuzz seeds (`fuzz/seeds/TARGET/*`) through the same
//! parsers the fuzz targets call, so that every input a fuzzer once found
//! interesting keeps being checked in the normal test run.

use std::path::PathBuf;

use token_core::validation::{TokenShape, classify};

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.expect("seed entry").path();
            let name = path.display().to_string();
            (name, std::fs::read(&path).expect("seed file"))
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[test]
fn authorization_header_seeds() {
    for (name, data) in seeds("authorization_header") {
        let parsed = std::str::from_utf8(&data).map(web_common::bearer::parse);
        if let Ok(Ok(token)) = parsed {
            assert!(!token.is_empty(), "{name}");
            assert!(!token.contains([' ', '"', '\\']), "{name}");
        }
    }
}

#[test]
fn form_and_basic_seeds() {
    for (name, data) in seeds("form_and_basic") {
        if let Ok(params) = auth_server::form::parse(&data) {
            for field in ["grant_type", "token", "scope", "client_id"] {
                assert!(
                    params.get(field).is_none_or(|value| !value.is_empty()),
                    "{name}"
                );
            }
        }
        let parsed = std::str::from_utf8(&data).map(auth_server::client_auth::parse_basic);
        if let Ok(Ok(Some(credentials))) = parsed {
            assert!(!credentials.id.is_empty(), "{name}");
        }
    }
}

#[test]
fn token_classifier_seeds() {
    for (name, data) in seeds("token_classifier") {
        let Ok(token) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(TokenShape::Jwt { .. }) = classify(token) {
            assert_eq!(token.matches('.').count(), 2, "{name}");
        }
    }
}

#[test]
fn settings_seeds() {
    for (name, data) in seeds("settings") {
        if let Ok(text) = std::str::from_utf8(&data) {
            // Reporting an error is fine; a panic fails the test.
            let result = token_core::Settings::from_json_str(text);
            if name.ends_with("appsettings.json") {
                assert!(result.is_ok(), "{name}: {result:?}");
            }
        }
    }
}
