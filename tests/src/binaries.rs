//! Locating the server binaries, built on demand.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Paths of the two server binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub auth_server: PathBuf,
    pub api_server: PathBuf,
}

/// Builds both binaries with the same profile as the tests (a no-op when
/// they are current) and returns their paths.
///
/// `cargo test` builds binaries only for the package under test, and this
/// package runs the other packages' binaries, so it runs `cargo build`
/// itself.
pub fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(build)
}

fn build() -> Binaries {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        "auth-server",
        "-p",
        "api-server",
        "--bins",
        "--message-format=json",
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .output()
        .expect("cargo could not be run to build the server binaries");
    assert!(
        output.status.success(),
        "building the server binaries failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut auth_server = None;
    let mut api_server = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        match message["target"]["name"].as_str() {
            Some("auth-server") => auth_server = Some(PathBuf::from(executable)),
            Some("api-server") => api_server = Some(PathBuf::from(executable)),
            _ => {}
        }
    }
    Binaries {
        auth_server: auth_server.expect("cargo reported no auth-server executable"),
        api_server: api_server.expect("cargo reported no api-server executable"),
    }
}
