//! The PostgreSQL figures: G3 against pgbench, G4 on PostgreSQL, and the
//! validation cache of two API instances (queries per call, and how fast a
//! revocation reaches them).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::load::{self, Target};
use crate::postgres::{Pgbench, PinnedPostgres, ScratchDatabase};
use crate::servers::{Binaries, Server};
use crate::{Options, access_token, add_client, add_row, bearer, median, ratio_of};

/// pgbench clients: the size of the API's pool
/// (`Database:MaxConnections`), so both sides use as many backends.
const PGBENCH_CLIENTS: u32 = 8;

/// Revocations watched for the cache's propagation time.
const REVOCATIONS: usize = 30;

pub async fn measure(
    binaries: &Binaries,
    dir: &Path,
    admin_url: &str,
    options: &Options,
    report: &mut serde_json::Value,
) -> Result<()> {
    let tokens_db = ScratchDatabase::create(admin_url, "bench_tokens").await?;
    let pgbench_db = ScratchDatabase::create(admin_url, "bench_pgbench").await?;
    let pgbench = Pgbench::init(&pgbench_db, PGBENCH_CLIENTS)?;
    let settings = dir.join("appsettings-postgres.json");
    crate::write_settings(&settings, &tokens_db.url)?;
    add_client(binaries, &settings).await?;

    let pinned = PinnedPostgres::pin()?;
    let result = measure_pinned(
        binaries, dir, &settings, &tokens_db, &pgbench, options, report,
    )
    .await;
    drop(pinned);
    tokens_db.close().await?;
    pgbench_db.close().await?;
    result
}

async fn measure_pinned(
    binaries: &Binaries,
    dir: &Path,
    settings: &Path,
    tokens_db: &ScratchDatabase,
    pgbench: &Pgbench,
    options: &Options,
    report: &mut serde_json::Value,
) -> Result<()> {
    let log = |name: &str| dir.join(format!("{name}.log"));
    let auth = Server::start(
        &binaries.auth_server,
        settings,
        &[("UseReferenceTokens", "true")],
        &log("auth-postgres"),
    )
    .await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let token = access_token(&http, &auth.url).await?;

    let api = Server::start(
        &binaries.api_server,
        settings,
        &[("UseReferenceTokens", "true")],
        &log("api-postgres"),
    )
    .await?;
    let no_auth = Target {
        name: "pg_no_auth",
        url: format!("{}/bench/me", api.url),
        headers: Vec::new(),
        post_body: None,
    };
    let reference = Target {
        name: "pg_reference",
        url: format!("{}/api/me", api.url),
        headers: bearer(&token),
        post_body: None,
    };

    // G3: throughput against the model of the API and pgbench's query
    // sharing one core.
    load::run(&no_auth, 2, options.connections, dir)?;
    load::run(&reference, 2, options.connections, dir)?;
    pgbench.run(2, None, dir)?;
    let (mut no_auth_rates, mut reference_rates, mut limits, mut pgbench_rates) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.repeats {
        let base = load::run(&no_auth, options.seconds, options.connections, dir)?;
        let checked = load::run(&reference, options.seconds, options.connections, dir)?;
        let yardstick = pgbench.run(options.seconds, None, dir)?;
        if base.errors + checked.errors > 0 {
            bail!("error responses on PostgreSQL");
        }
        let limit =
            1.0 / (1.0 / base.requests_per_second + 1.0 / yardstick.transactions_per_second);
        no_auth_rates.push(base.requests_per_second);
        reference_rates.push(checked.requests_per_second);
        pgbench_rates.push(yardstick.transactions_per_second);
        limits.push(limit);
    }
    let g3 = ratio_of(&reference_rates, &limits);
    report["G3"] = json!({
        "no_auth_requests_per_second": median(no_auth_rates.clone()),
        "reference_requests_per_second": median(reference_rates),
        "pgbench_transactions_per_second": median(pgbench_rates.clone()),
        "limit_requests_per_second": median(limits),
    });
    add_row(
        report,
        "G3",
        "/api/me reference on PostgreSQL ÷ L = 1/(1/no-auth + 1/pgbench -S)",
        format!("{g3:.2}"),
        ">= 0.75",
        g3 >= 0.75,
    );

    // G4: p99 added at half the no-authentication throughput, against
    // pgbench's own p99 at the same rate.
    // Half of the slowest of the three: the rate must be one that the
    // server, pgbench and the load generator all keep up with.
    let generator = crate::latency::capacity(&no_auth.url, &[])?;
    let rate = (median(no_auth_rates)
        .min(median(pgbench_rates.clone()))
        .min(generator)
        / 2.0)
        .round() as u64;
    let (mut added, mut yardsticks) = (Vec::new(), Vec::new());
    for _ in 0..options.repeats {
        let base = crate::latency::fixed_rate(&no_auth.url, &[], rate, options.seconds)?;
        let checked =
            crate::latency::fixed_rate(&reference.url, &reference.headers, rate, options.seconds)?;
        let yardstick = pgbench.run(options.seconds, Some(rate), dir)?;
        added.push((checked.p99_ms - base.p99_ms) * 1000.0);
        yardsticks.push(yardstick.p99_ms.unwrap_or(f64::NAN) * 1000.0);
    }
    let added_us = median(added.clone());
    let pgbench_p99_us = median(yardsticks.clone());
    report["G4_postgres"] = json!({
        "rate": rate,
        "added_p99_us_per_round": added,
        "pgbench_p99_us_per_round": yardsticks,
    });
    add_row(
        report,
        "G4",
        &format!(
            "p99 added by reference validation at {rate} requests/s, PostgreSQL (µs; pgbench p99 {pgbench_p99_us:.0})"
        ),
        format!("{added_us:.0}"),
        &format!("<= {:.0}", 2.0 * pgbench_p99_us),
        added_us <= 2.0 * pgbench_p99_us,
    );
    drop(api);

    cache_figures(binaries, dir, settings, tokens_db, &auth, options, report).await
}

/// Queries per API call with and without the validation cache, and the
/// time a revocation takes to reach two caching instances.
async fn cache_figures(
    binaries: &Binaries,
    dir: &Path,
    settings: &Path,
    tokens_db: &ScratchDatabase,
    auth: &Server,
    options: &Options,
    report: &mut serde_json::Value,
) -> Result<()> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let token = access_token(&http, &auth.url).await?;
    let mut per_call = Vec::new();
    for cached in [false, true] {
        let flag = if cached { "true" } else { "false" };
        let env = [
            ("UseReferenceTokens", "true"),
            ("Tokens__ValidationCache", flag),
            ("RUST_LOG", "warn,token_core=info"),
        ];
        let name = |index: usize| format!("api-cache-{flag}-{index}");
        let apis = [
            Server::start(
                &binaries.api_server,
                settings,
                &env,
                &dir.join(format!("{}.log", name(0))),
            )
            .await?,
            Server::start(
                &binaries.api_server,
                settings,
                &env,
                &dir.join(format!("{}.log", name(1))),
            )
            .await?,
        ];
        if cached {
            for index in 0..2 {
                wait_for_log(
                    &dir.join(format!("{}.log", name(index))),
                    "validation cache in use",
                )
                .await?;
            }
        }
        let target = Target {
            name: "pg_cache",
            url: format!("{}/api/me", apis[0].url),
            headers: bearer(&token),
            post_body: None,
        };
        let before = tokens_db.committed_transactions().await?;
        let measured = load::run(&target, options.seconds, options.connections, dir)?;
        // Backends report their counts when they exit, so the servers go
        // first.
        drop(apis);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = tokens_db.committed_transactions().await?;
        let queries = (after - before) as f64 / measured.requests as f64;
        per_call.push(queries);
    }
    report["cache_queries_per_call"] = json!({ "without": per_call[0], "with": per_call[1] });
    add_row(
        report,
        "cache",
        &format!(
            "database transactions per /api/me call on PostgreSQL, without the cache: {:.2}",
            per_call[0]
        ),
        format!("{:.4}", per_call[1]),
        "-",
        per_call[1] < per_call[0],
    );

    let env = [
        ("UseReferenceTokens", "true"),
        ("Tokens__ValidationCache", "true"),
        ("RUST_LOG", "warn,token_core=info"),
    ];
    let mut apis = Vec::new();
    for index in 0..2 {
        let log = dir.join(format!("api-propagation-{index}.log"));
        apis.push(Server::start(&binaries.api_server, settings, &env, &log).await?);
        wait_for_log(&log, "validation cache in use").await?;
    }
    let urls: Vec<String> = apis.iter().map(|api| api.url.clone()).collect();
    let propagation =
        crate::propagation::run(&http, &urls, &auth.url, crate::CLIENT, REVOCATIONS).await?;
    add_row(
        report,
        "cache",
        "p99 from sending a revocation to its first rejection at each of 2 caching instances (ms)",
        format!("{:.1}", propagation.p99_ms),
        "<= 50",
        propagation.p99_ms <= 50.0,
    );
    add_row(
        report,
        "cache",
        "requests accepted at an instance after it first rejected a revoked token",
        propagation.accepted_after_first_rejection.to_string(),
        "0",
        propagation.accepted_after_first_rejection == 0,
    );
    report["cache_propagation"] = json!(propagation);
    Ok(())
}

async fn wait_for_log(path: &Path, text: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(text) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(anyhow::anyhow!(
                "{} never logged \"{text}\"",
                path.display()
            ))
            .context("the validation cache did not come into use");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
