//! Latency at a fixed request rate with oha, pinned to the load core.
//! wrk drives as fast as it can, which measures throughput; latency
//! percentiles mean something only at a rate the server keeps up with.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::servers::LOAD_CPU;

/// The oha release the harness installs.
const OHA_VERSION: &str = "1.16.0";

/// Connections oha keeps open; enough for the rates used here at a few
/// milliseconds of latency.
const CONNECTIONS: u32 = 16;

/// Latency percentiles of one run, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn oha_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/bench-tools/bin/oha"
    ))
}

/// Installs oha from crates.io under `target/bench-tools` unless it is
/// there already.
pub fn ensure_oha() -> Result<()> {
    if oha_path().is_file() {
        return Ok(());
    }
    eprintln!("installing oha {OHA_VERSION} with cargo install (a few minutes, once)...");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args([
            "install",
            "--quiet",
            "--locked",
            "oha",
            "--version",
            OHA_VERSION,
        ])
        .arg("--root")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/bench-tools"
        ))
        .status()
        .context("running cargo install oha")?;
    if !status.success() {
        bail!("cargo install oha {OHA_VERSION} failed");
    }
    Ok(())
}

/// Measures the maximum requests per second oha sends to `url` from one
/// core, flat out for two seconds. Fixed-rate runs stay at half of it, so
/// that they measure the server, not a saturated load generator.
pub fn capacity(url: &str, headers: &[(String, String)]) -> Result<f64> {
    let report = run_oha(url, headers, &["-z2s".to_owned(), "-c32".to_owned()])?;
    report["summary"]["requestsPerSec"]
        .as_f64()
        .context("oha reported no requests/s")
}

/// GETs `url` at `rate` requests per second for `seconds`, with latency
/// measured from each request's scheduled start, so that a stall counts
/// against every request it delays.
pub fn fixed_rate(
    url: &str,
    headers: &[(String, String)],
    rate: u64,
    seconds: u64,
) -> Result<Latency> {
    let report = run_oha(
        url,
        headers,
        &[
            "--latency-correction".to_owned(),
            format!("-z{seconds}s"),
            format!("-q{rate}"),
            format!("-c{CONNECTIONS}"),
        ],
    )?;
    let percentile = |key: &str| {
        report["latencyPercentiles"][key]
            .as_f64()
            .map(|seconds| seconds * 1000.0)
            .with_context(|| format!("oha reported no {key}"))
    };
    Ok(Latency {
        p50_ms: percentile("p50")?,
        p99_ms: percentile("p99")?,
    })
}

fn run_oha(url: &str, headers: &[(String, String)], args: &[String]) -> Result<serde_json::Value> {
    let mut command = std::process::Command::new("taskset");
    command
        .args(["-c", LOAD_CPU])
        .arg(oha_path())
        .args(["--no-tui", "--output-format", "json"])
        .args(args);
    for (name, value) in headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    let output = command.arg(url).output().context("running oha")?;
    if !output.status.success() {
        bail!("oha failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "oha printed no JSON: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let codes = report["statusCodeDistribution"]
        .as_object()
        .context("oha reported no status codes")?;
    if codes.keys().any(|code| code != "200") {
        bail!("{url} returned statuses other than 200: {codes:?}");
    }
    Ok(report)
}
