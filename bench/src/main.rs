//! Measures token validation: `/api/me` with a reference token against the
//! same handler without authentication and against a JWT, introspection,
//! memory, and whether any request is accepted after a revocation.
//!
//! Figures are ratios measured in one run, because absolute numbers on a
//! shared machine move from run to run. The servers run on CPU 0 and wrk on
//! CPU 1.

mod load;
mod revocation;
mod servers;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::load::{Measured, Target};
use crate::servers::{Server, admin};

const CLIENT: (&str, &str) = ("bench", "bench-secret-0123456789");

#[derive(Parser)]
#[command(about = "Benchmark of reference token validation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every measurement and print the table of ratios
    All {
        /// Seconds per wrk run
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Rounds of interleaved runs; the table shows the median ratio
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// wrk connections
        #[arg(long, default_value_t = 32)]
        connections: u32,
        /// Output path of the figures as JSON
        #[arg(long, default_value = "target/bench-results.json")]
        json: String,
    },
    /// A run of a few seconds on debug builds that checks the harness works
    /// and that no request is accepted after a revocation; its figures mean
    /// nothing
    Smoke,
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::All {
            seconds,
            repeats,
            connections,
            json,
        } => {
            let report = measure(seconds, repeats.max(1), connections, true).await?;
            print_table(&report);
            std::fs::write(&json, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("writing {json}"))?;
            println!("\nfigures written to {json}");
            Ok(())
        }
        Command::Smoke => {
            let report = measure(1, 1, 8, false).await?;
            print_table(&report);
            let accepted = report["G9"]["accepted_after_revocation"].as_u64();
            if accepted != Some(0) {
                bail!("requests were accepted after a revocation: {accepted:?}");
            }
            println!("\nsmoke: 1 passed, 0 failed");
            Ok(())
        }
    }
}

/// Runs every measurement. `full` selects release builds and a warm-up; the
/// smoke run passes false.
async fn measure(
    seconds: u64,
    repeats: usize,
    connections: u32,
    full: bool,
) -> Result<serde_json::Value> {
    ensure_wrk()?;
    let binaries = servers::build(full)?;
    let dir = tempfile::tempdir()?;
    let settings = dir.path().join("appsettings.json");
    std::fs::write(
        &settings,
        json!({
            "ConnectionStrings": {
                "Default": format!("sqlite://{}", dir.path().join("tokens.db").display())
            },
            "Auth": { "Urls": "http://127.0.0.1:0", "Issuer": "http://bench.test" },
            "Api": { "Urls": "http://127.0.0.1:0" },
            "RateLimiting": { "Enabled": false },
            "Cleanup": { "Enabled": false }
        })
        .to_string(),
    )?;
    admin(
        &binaries.auth_server,
        &settings,
        &[
            "clients",
            "add",
            CLIENT.0,
            "--secret",
            CLIENT.1,
            "--grant-types",
            "client_credentials",
            "--scopes",
            "all",
        ],
        None,
    )
    .await?;

    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let auth_reference = Server::start(
        &binaries.auth_server,
        &settings,
        &[("UseReferenceTokens", "true")],
        &log("auth-reference"),
    )
    .await?;
    let auth_jwt = Server::start(&binaries.auth_server, &settings, &[], &log("auth-jwt")).await?;
    // Accepting JWTs, the API still checks reference tokens in the database.
    let api = Server::start(&binaries.api_server, &settings, &[], &log("api0")).await?;
    let api_second = Server::start(&binaries.api_server, &settings, &[], &log("api1")).await?;

    let http = reqwest::Client::builder().no_proxy().build()?;
    let reference = access_token(&http, &auth_reference.url).await?;
    let jwt = access_token(&http, &auth_jwt.url).await?;
    let bearer = |token: &str| vec![("Authorization".to_owned(), format!("Bearer {token}"))];
    let targets = [
        Target {
            name: "no_auth",
            url: format!("{}/bench/me", api.url),
            headers: Vec::new(),
            post_body: None,
        },
        Target {
            name: "reference",
            url: format!("{}/api/me", api.url),
            headers: bearer(&reference),
            post_body: None,
        },
        Target {
            name: "jwt",
            url: format!("{}/api/me", api.url),
            headers: bearer(&jwt),
            post_body: None,
        },
        Target {
            name: "introspect",
            url: format!("{}/connect/introspect", auth_reference.url),
            headers: vec![
                (
                    "Authorization".to_owned(),
                    format!("Basic {}", basic(CLIENT.0, CLIENT.1)),
                ),
                (
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
            ],
            post_body: Some(format!("token={reference}")),
        },
    ];

    if full {
        for target in &targets {
            load::run(target, 2, connections, dir.path())?;
        }
    }
    let mut rounds: Vec<Vec<Measured>> = Vec::new();
    for round in 0..repeats {
        let mut measured = Vec::new();
        for target in &targets {
            let result = load::run(target, seconds, connections, dir.path())?;
            if result.errors > 0 {
                bail!(
                    "{} returned {} error responses in round {round}",
                    target.name,
                    result.errors
                );
            }
            measured.push(result);
        }
        rounds.push(measured);
    }
    let api_rss = api.resident_mib();

    let race = revocation::run(
        &http,
        &[api.url.clone(), api_second.url.clone()],
        &auth_reference.url,
        CLIENT,
        &access_token(&http, &auth_reference.url).await?,
        Duration::from_secs(seconds.max(2)),
    )
    .await?;

    let ratio = |numerator: usize, denominator: usize| {
        median(
            rounds
                .iter()
                .map(|round| {
                    round[numerator].requests_per_second / round[denominator].requests_per_second
                })
                .collect(),
        )
    };
    let rates: serde_json::Map<String, serde_json::Value> = targets
        .iter()
        .enumerate()
        .map(|(index, target)| {
            let values: Vec<f64> = rounds
                .iter()
                .map(|round| round[index].requests_per_second)
                .collect();
            (target.name.to_owned(), json!(median(values)))
        })
        .collect();
    Ok(json!({
        "machine": machine(),
        "seconds_per_run": seconds,
        "rounds": repeats,
        "connections": connections,
        "median_requests_per_second": rates,
        "G1": { "ratio": ratio(1, 0), "bar": ">= 0.75", "what": "/api/me reference ÷ no authentication (SQLite)" },
        "G2": { "ratio": ratio(1, 2), "bar": ">= 1.0", "what": "/api/me reference ÷ /api/me JWT" },
        "G6": { "ratio": ratio(3, 1), "bar": ">= 0.8", "what": "/connect/introspect ÷ /api/me reference" },
        "G9": race,
        "G10": { "resident_mib": api_rss, "bar": "<= 64", "what": "API resident memory after the runs above" },
    }))
}

async fn access_token(http: &reqwest::Client, auth_url: &str) -> Result<String> {
    let body: serde_json::Value = http
        .post(format!("{auth_url}/connect/token"))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the token response")
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    // The benchmark's id and secret are unreserved characters, which need
    // no form-encoding before base64.
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map(|kib| kib / 1024.0 / 1024.0);
    json!({ "cores": cores, "memory_gib": memory_gib })
}

fn ensure_wrk() -> Result<()> {
    let found = std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok();
    if found {
        return Ok(());
    }
    eprintln!("installing wrk from Debian...");
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && apt-get install -y -qq wrk >/dev/null",
        ])
        .status()?;
    if !status.success() {
        bail!("wrk is missing and apt-get install wrk failed");
    }
    Ok(())
}

fn print_table(report: &serde_json::Value) {
    println!("{:<5} {:>10}  {:<10} what", "id", "figure", "bar");
    for id in ["G1", "G2", "G6"] {
        println!(
            "{:<5} {:>10.3}  {:<10} {}",
            id,
            report[id]["ratio"].as_f64().unwrap_or(f64::NAN),
            report[id]["bar"].as_str().unwrap_or(""),
            report[id]["what"].as_str().unwrap_or("")
        );
    }
    println!(
        "{:<5} {:>10}  {:<10} requests accepted after a revocation was acknowledged ({} requests)",
        "G9", report["G9"]["accepted_after_revocation"], "0", report["G9"]["requests"]
    );
    println!(
        "{:<5} {:>10.1}  {:<10} {}",
        "G10",
        report["G10"]["resident_mib"].as_f64().unwrap_or(f64::NAN),
        report["G10"]["bar"].as_str().unwrap_or(""),
        report["G10"]["what"].as_str().unwrap_or("")
    );
    println!(
        "\nmedian requests/s: {}",
        report["median_requests_per_second"]
    );
    println!("machine: {}", report["machine"]);
}
