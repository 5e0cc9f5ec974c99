//! Building and starting the servers under measurement.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The CPU the servers run on; the load generator gets the other one.
pub const SERVER_CPU: &str = "0";
pub const LOAD_CPU: &str = "1";

pub struct Binaries {
    pub auth_server: PathBuf,
    pub api_server: PathBuf,
}

/// Builds both servers, the API with its benchmark route, and returns
/// their paths. Measurements need `release`; the smoke run reuses the debug
/// build of the test suite.
pub fn build(release: bool) -> Result<Binaries> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let profile = if release { "release" } else { "dev" };
    eprintln!("building the servers with the {profile} profile...");
    let output = std::process::Command::new(cargo)
        .args([
            "build",
            "--profile",
            profile,
            "--quiet",
            "-p",
            "auth-server",
            "-p",
            "api-server",
            "--features",
            "api-server/bench-routes",
            "--bins",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed");
    }
    let mut auth_server = None;
    let mut api_server = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let executable = message["executable"].as_str().map(PathBuf::from);
        match message["target"]["name"].as_str() {
            Some("auth-server") => auth_server = executable,
            Some("api-server") => api_server = executable,
            _ => {}
        }
    }
    Ok(Binaries {
        auth_server: auth_server.context("cargo reported no auth-server binary")?,
        api_server: api_server.context("cargo reported no api-server binary")?,
    })
}

/// A server process pinned to [`SERVER_CPU`], killed when dropped.
pub struct Server {
    pub url: String,
    child: Child,
}

impl Server {
    pub async fn start(
        binary: &Path,
        settings: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Server> {
        let log_file = std::fs::File::create(log)?;
        let mut child = Command::new("taskset")
            .args(["-c", SERVER_CPU])
            .arg(binary)
            .arg("--config")
            .arg(settings)
            .arg("serve")
            .env_clear()
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("Now listening on: ") {
                    return Some(address.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .with_context(|| format!("{} did not start; see {}", binary.display(), log.display()))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            url: address,
            child,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident memory in MiB, from `/proc`.
    pub fn resident_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

/// Runs an admin command of the auth-server binary.
pub async fn admin(
    binary: &Path,
    settings: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(settings)
        .args(args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take().context("stdin")?;
    if let Some(text) = stdin {
        input.write_all(format!("{text}\n").as_bytes()).await?;
    }
    drop(input);
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        bail!(
            "auth-server {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
