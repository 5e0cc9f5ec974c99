//! Measures token validation: `/api/me` with a reference token against the
//! same handler without authentication and against a JWT, introspection,
//! memory, and whether any request is accepted after a revocation.
//!
//! Figures are ratios measured in one run, because absolute numbers on a
//! shared machine move from run to run. The servers run on CPU 0 and wrk on
//! CPU 1.

mod latency;
mod load;
mod peers;
mod pg_figures;
mod postgres;
mod propagation;
mod revocation;
mod scale;
mod servers;
mod sqlite;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::servers::admin;

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
        /// PostgreSQL server for G3, G4 and the cache figures; scratch
        /// databases are created and dropped on it. "none" skips them
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres_url: String,
        /// Stored tokens of the large database in G8
        #[arg(long, default_value_t = 10_000_000)]
        large_tokens: u64,
        /// Parts to run, for trying one out: sqlite (G1, G2, G4-G7, G9,
        /// G10), postgres (G3, G4, the cache) and scale (G8)
        #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres,scale")]
        sections: Vec<String>,
    },
    /// A run of a few seconds on debug builds that checks the harness works
    /// and that no request is accepted after a revocation; its figures mean
    /// nothing
    Smoke,
    /// Install and start oidc-provider and django-oauth-toolkit, check one
    /// introspection and one token request of each, and print requests/s
    /// of each of their targets
    Peers {
        /// Seconds per wrk run
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        /// wrk connections
        #[arg(long, default_value_t = 32)]
        connections: u32,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::All {
            seconds,
            repeats,
            connections,
            json,
            postgres_url,
            large_tokens,
            sections,
        } => {
            for section in &sections {
                if !["sqlite", "postgres", "scale"].contains(&section.as_str()) {
                    bail!("unknown section {section:?}; expected sqlite, postgres or scale");
                }
            }
            let options = Options {
                seconds,
                repeats: repeats.max(1),
                connections,
                postgres_url: (postgres_url != "none").then_some(postgres_url),
                large_tokens,
                sections,
            };
            let report = measure(&options, true).await?;
            print_table(&report);
            std::fs::write(&json, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("writing {json}"))?;
            println!("\nfigures written to {json}");
            Ok(())
        }
        Command::Smoke => {
            let options = Options {
                seconds: 1,
                repeats: 1,
                connections: 8,
                postgres_url: None,
                large_tokens: 0,
                sections: vec!["sqlite".to_owned()],
            };
            let report = measure(&options, false).await?;
            print_table(&report);
            let accepted = report["G9"]["accepted_after_revocation"].as_u64();
            if accepted != Some(0) {
                bail!("requests were accepted after a revocation: {accepted:?}");
            }
            println!("\nsmoke: 1 passed, 0 failed");
            Ok(())
        }
        Command::Peers {
            seconds,
            connections,
        } => {
            ensure_wrk()?;
            peers::check(seconds, connections).await
        }
    }
}

/// Options of a full run.
#[derive(Clone)]
struct Options {
    seconds: u64,
    repeats: usize,
    connections: u32,
    postgres_url: Option<String>,
    large_tokens: u64,
    sections: Vec<String>,
}

/// Runs every measurement. `full` selects release builds, warm-ups, the
/// peers, the latency runs, PostgreSQL and G8; the smoke run passes false.
async fn measure(options: &Options, full: bool) -> Result<serde_json::Value> {
    ensure_wrk()?;
    if full {
        latency::ensure_oha()?;
    }
    let binaries = servers::build(full)?;
    let dir = tempfile::tempdir()?;
    let mut report = json!({
        "machine": machine(),
        "seconds_per_run": options.seconds,
        "rounds": options.repeats,
        "connections": options.connections,
    });

    let runs = |section: &str| options.sections.iter().any(|name| name == section);
    if runs("sqlite") {
        sqlite::measure(&binaries, dir.path(), options, full, &mut report).await?;
    }
    if full && runs("postgres") {
        match &options.postgres_url {
            Some(url) => {
                pg_figures::measure(&binaries, dir.path(), url, options, &mut report).await?
            }
            None => eprintln!(
                "--postgres-url none: G3, G4 on PostgreSQL and the cache figures are skipped"
            ),
        }
    }
    if full && runs("scale") {
        scale::measure(&binaries, dir.path(), options, &mut report).await?;
    }
    Ok(report)
}

/// Writes the settings of a benchmark stack on `database_url`.
fn write_settings(path: &std::path::Path, database_url: &str) -> Result<()> {
    std::fs::write(
        path,
        json!({
            "ConnectionStrings": { "Default": database_url },
            "Auth": { "Urls": "http://127.0.0.1:0", "Issuer": "http://bench.test" },
            "Api": { "Urls": "http://127.0.0.1:0" },
            "RateLimiting": { "Enabled": false },
            "Cleanup": { "Enabled": false }
        })
        .to_string(),
    )?;
    Ok(())
}

/// Registers the benchmark client.
async fn add_client(binaries: &servers::Binaries, settings: &std::path::Path) -> Result<()> {
    admin(
        &binaries.auth_server,
        settings,
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
    .await
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".to_owned(), format!("Bearer {token}"))]
}

/// Median of the per-round ratios of two series.
fn ratio_of(numerators: &[f64], denominators: &[f64]) -> f64 {
    median(
        numerators
            .iter()
            .zip(denominators)
            .map(|(numerator, denominator)| numerator / denominator)
            .collect(),
    )
}

pub async fn access_token(http: &reqwest::Client, auth_url: &str) -> Result<String> {
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

pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    // The benchmark's id and secret are unreserved characters, which need
    // no form-encoding before base64.
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn machine() -> serde_json::Value {
    let cores = cores();
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map(|kib| kib / 1024.0 / 1024.0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    json!({ "cores": cores, "memory_gib": memory_gib, "date": date })
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

/// Adds one line of the table: `shown` is the figure as printed, `met`
/// whether it reaches `bar`.
pub fn add_row(
    report: &mut serde_json::Value,
    id: &str,
    what: &str,
    shown: String,
    bar: &str,
    met: bool,
) {
    let row = json!({ "id": id, "what": what, "figure": shown, "bar": bar, "met": met });
    match report["table"].as_array_mut() {
        Some(rows) => rows.push(row),
        None => report["table"] = json!([row]),
    }
}

fn print_table(report: &serde_json::Value) {
    println!(
        "{:<4} {:>14}  {:<14} {:<4} what",
        "id", "figure", "bar", "met"
    );
    for row in report["table"].as_array().into_iter().flatten() {
        println!(
            "{:<4} {:>14}  {:<14} {:<4} {}",
            row["id"].as_str().unwrap_or(""),
            row["figure"].as_str().unwrap_or(""),
            row["bar"].as_str().unwrap_or(""),
            if row["met"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            row["what"].as_str().unwrap_or("")
        );
    }
    println!(
        "\nmedian requests/s: {}",
        report["median_requests_per_second"]
    );
    println!("machine: {}", report["machine"]);
}
