//! G9: requests accepted after a revocation was acknowledged, under load on
//! two API instances.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use reqwest::StatusCode;

/// Counts of one G9 run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RevocationRace {
    pub requests: u64,
    /// Requests sent after the revocation response arrived that still got
    /// a 200. The bar is 0.
    pub accepted_after_revocation: u64,
    pub rejected_after_revocation: u64,
}

/// Loads both APIs with one reference token, revokes it at Auth midway,
/// and counts the 200s for requests that started after the revocation was
/// acknowledged.
pub async fn run(
    http: &reqwest::Client,
    api_urls: &[String],
    auth_url: &str,
    client: (&str, &str),
    token: &str,
    load: Duration,
) -> Result<RevocationRace> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let url = format!("{}/api/me", api_urls[worker % api_urls.len()]);
        let http = http.clone();
        let token = token.to_owned();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let status = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .map(|response| response.status());
                results.push((started, status.ok()));
            }
            results
        }));
    }

    tokio::time::sleep(load / 2).await;
    let response = http
        .post(format!("{auth_url}/connect/revocation"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("token", token)])
        .send()
        .await?;
    if response.status() != StatusCode::OK {
        bail!("revocation failed with {}", response.status());
    }
    let revoked_at = Instant::now();
    tokio::time::sleep(load / 2).await;
    stop.store(true, Ordering::Relaxed);

    let mut race = RevocationRace {
        requests: 0,
        accepted_after_revocation: 0,
        rejected_after_revocation: 0,
    };
    for worker in workers {
        for (started, status) in worker.await? {
            race.requests += 1;
            if started <= revoked_at {
                continue;
            }
            match status {
                Some(StatusCode::OK) => race.accepted_after_revocation += 1,
                Some(StatusCode::UNAUTHORIZED) => race.rejected_after_revocation += 1,
                other => bail!("unexpected response during the revocation run: {other:?}"),
            }
        }
    }
    Ok(race)
}
