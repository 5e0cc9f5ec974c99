//! The SQLite figures: G1, G2, G4, G5, G6, G7, G9 and G10. Our servers and
//! the peers take turns on the server core, round after round.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::json;

use crate::load::{self, Measured, Target};
use crate::peers::{self, Peer};
use crate::servers::{Binaries, Server};
use crate::{CLIENT, Options, access_token, add_client, add_row, basic, bearer, median, ratio_of};

/// A load target and the connections it runs with.
struct Run {
    target: Target,
    connections: u32,
}

pub async fn measure(
    binaries: &Binaries,
    dir: &Path,
    options: &Options,
    full: bool,
    report: &mut serde_json::Value,
) -> Result<()> {
    let settings = dir.join("appsettings.json");
    let database = format!("sqlite://{}", dir.join("tokens.db").display());
    crate::write_settings(&settings, &database)?;
    add_client(binaries, &settings).await?;

    let log = |name: &str| dir.join(format!("{name}.log"));
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
    let connections = options.connections;
    let ours = |target: Target| Run {
        target,
        connections,
    };
    let basic_form = |url: String, body: &str, name: &'static str| {
        let authorization = format!("Basic {}", basic(CLIENT.0, CLIENT.1));
        peers::form_post(name, &url, authorization, body.to_owned())
    };
    let mut runs = vec![
        ours(Target {
            name: "no_auth",
            url: format!("{}/bench/me", api.url),
            headers: Vec::new(),
            post_body: None,
        }),
        ours(Target {
            name: "reference",
            url: format!("{}/api/me", api.url),
            headers: bearer(&reference),
            post_body: None,
        }),
        ours(Target {
            name: "jwt",
            url: format!("{}/api/me", api.url),
            headers: bearer(&jwt),
            post_body: None,
        }),
        ours(basic_form(
            format!("{}/connect/introspect", auth_reference.url),
            &format!("token={reference}"),
            "introspect",
        )),
    ];

    // The peers, started only for the full run.
    let mut peers: Vec<Peer> = Vec::new();
    if full {
        runs.push(ours(basic_form(
            format!("{}/connect/token", auth_reference.url),
            "grant_type=client_credentials",
            "issue_reference",
        )));
        runs.push(ours(basic_form(
            format!("{}/connect/token", auth_jwt.url),
            "grant_type=client_credentials",
            "issue_jwt",
        )));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-peers");
        let install = peers::install(&root)?;
        peers.push(peers::start_oidc_provider(&install, &log("oidc-provider")).await?);
        peers.push(
            peers::start_django_oauth_toolkit(&install, dir, &log("django-oauth-toolkit")).await?,
        );
        for peer in &peers {
            for target in peer.targets() {
                let connections = peer
                    .max_connections(&target)
                    .map_or(connections, |max| max.min(connections));
                runs.push(Run {
                    target,
                    connections,
                });
            }
        }
    }

    if full {
        for run in &runs {
            load::run(&run.target, 2, run.connections, dir)?;
        }
    }
    let mut rounds: Vec<Vec<Measured>> = Vec::new();
    for round in 0..options.repeats {
        let mut measured = Vec::new();
        for run in &mut runs {
            // oidc-provider's in-memory store evicts old tokens once its
            // own issuance runs have filled it, so each round introspects a
            // fresh one.
            if run.target.name == "oidc_introspect" {
                let peer = &mut peers[0];
                peer.renew_access_token().await?;
                run.target = peer.introspect_basic();
            }
            let result = load::run(&run.target, options.seconds, run.connections, dir)?;
            if result.errors > 0 {
                bail!(
                    "{} returned {} error responses in round {round}",
                    run.target.name,
                    result.errors
                );
            }
            if run.target.name == "oidc_introspect" && !peers[0].access_token_active().await? {
                bail!("oidc-provider forgot the introspected token during the run");
            }
            measured.push(result);
        }
        rounds.push(measured);
    }
    let api_rss = api.resident_mib();
    let series = |name: &str| -> Vec<f64> {
        let index = runs
            .iter()
            .position(|run| run.target.name == name)
            .unwrap_or_else(|| panic!("no run named {name}"));
        rounds
            .iter()
            .map(|round| round[index].requests_per_second)
            .collect()
    };
    let rates: serde_json::Map<String, serde_json::Value> = runs
        .iter()
        .map(|run| {
            (
                run.target.name.to_owned(),
                json!(median(series(run.target.name))),
            )
        })
        .collect();
    report["median_requests_per_second"] = json!(rates);

    let g1 = ratio_of(&series("reference"), &series("no_auth"));
    add_row(
        report,
        "G1",
        "/api/me reference ÷ no authentication (SQLite)",
        format!("{g1:.2}"),
        ">= 0.75",
        g1 >= 0.75,
    );
    let g2 = ratio_of(&series("reference"), &series("jwt"));
    add_row(
        report,
        "G2",
        "/api/me reference ÷ /api/me JWT",
        format!("{g2:.2}"),
        ">= 1.0",
        g2 >= 1.0,
    );

    if full {
        let no_auth_rate = median(series("no_auth"));
        latency_rows(&api, &reference, no_auth_rate, options, report).await?;

        let oidc = ratio_of(&series("introspect"), &series("oidc_introspect"));
        add_row(
            report,
            "G5",
            "/connect/introspect ÷ oidc-provider's introspection",
            format!("{oidc:.2}"),
            ">= 2.0",
            oidc >= 2.0,
        );
        let dot_best: Vec<f64> = series("dot_introspect_basic")
            .iter()
            .zip(series("dot_introspect_bearer"))
            .map(|(basic, bearer)| basic.max(bearer))
            .collect();
        let dot = ratio_of(&series("introspect"), &dot_best);
        add_row(
            report,
            "G5",
            "/connect/introspect ÷ django-oauth-toolkit's faster mode (Bearer)",
            format!("{dot:.1}"),
            ">= 30",
            dot >= 30.0,
        );
    }

    let g6 = ratio_of(&series("introspect"), &series("reference"));
    add_row(
        report,
        "G6",
        "/connect/introspect ÷ /api/me reference",
        format!("{g6:.2}"),
        ">= 0.8",
        g6 >= 0.8,
    );

    if full {
        let oidc = ratio_of(&series("issue_reference"), &series("oidc_token"));
        let oidc_jwt = ratio_of(&series("issue_jwt"), &series("oidc_token"));
        add_row(
            report,
            "G7",
            &format!(
                "client_credentials issuance, reference ÷ oidc-provider (JWT mode: {oidc_jwt:.2})"
            ),
            format!("{oidc:.2}"),
            ">= 1.0",
            oidc >= 1.0,
        );
        let dot = ratio_of(&series("issue_reference"), &series("dot_token"));
        let dot_jwt = ratio_of(&series("issue_jwt"), &series("dot_token"));
        add_row(
            report,
            "G7",
            &format!(
                "client_credentials issuance, reference ÷ django-oauth-toolkit (JWT mode: {dot_jwt:.0})"
            ),
            format!("{dot:.0}"),
            ">= 100",
            dot >= 100.0,
        );
    }
    drop(peers);

    let race = crate::revocation::run(
        &http,
        &[api.url.clone(), api_second.url.clone()],
        &auth_reference.url,
        CLIENT,
        &access_token(&http, &auth_reference.url).await?,
        Duration::from_secs(options.seconds.max(2)),
    )
    .await?;
    add_row(
        report,
        "G9",
        &format!(
            "requests accepted after a revocation was acknowledged, of {} sent after it",
            race.accepted_after_revocation + race.rejected_after_revocation
        ),
        race.accepted_after_revocation.to_string(),
        "0",
        race.accepted_after_revocation == 0,
    );
    report["G9"] = json!(race);

    let rss = api_rss.unwrap_or(f64::NAN);
    add_row(
        report,
        "G10",
        "resident memory of an API server after the runs above (MiB)",
        format!("{rss:.1}"),
        "<= 64",
        rss <= 64.0,
    );
    Ok(())
}

/// G4 on SQLite: the p99 latency that reference validation adds over no
/// authentication, at a fixed rate of half the no-authentication
/// throughput.
async fn latency_rows(
    api: &Server,
    reference: &str,
    no_auth_rate: f64,
    options: &Options,
    report: &mut serde_json::Value,
) -> Result<()> {
    let no_auth = format!("{}/bench/me", api.url);
    let with_token = format!("{}/api/me", api.url);
    let generator = crate::latency::capacity(&no_auth, &[])?;
    let rate = (no_auth_rate.min(generator) / 2.0).round() as u64;
    let mut added = Vec::new();
    for _ in 0..options.repeats {
        let base = crate::latency::fixed_rate(&no_auth, &[], rate, options.seconds)?;
        let checked =
            crate::latency::fixed_rate(&with_token, &bearer(reference), rate, options.seconds)?;
        added.push((checked.p99_ms - base.p99_ms) * 1000.0);
    }
    let added_us = median(added.clone());
    report["G4_sqlite"] = json!({
        "rate": rate,
        "no_auth_requests_per_second": no_auth_rate,
        "oha_requests_per_second": generator,
        "added_p99_us_per_round": added,
    });
    add_row(
        report,
        "G4",
        &format!("p99 added by reference validation at {rate} requests/s, SQLite (µs)"),
        format!("{added_us:.0}"),
        "<= 250",
        added_us <= 250.0,
    );
    Ok(())
}
