//! How long a revocation takes to reach API instances that cache
//! validations: the time from the revocation request to the first rejected
//! call at each instance, and whether any call is accepted after that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::StatusCode;

/// The figures of all revocations of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Propagation {
    pub revocations: usize,
    /// Milliseconds from sending the revocation to the first rejected call,
    /// per instance and revocation. The commit happens between the send and
    /// the response, so these overstate the time since the commit.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Calls accepted at an instance after it had rejected the token once.
    /// The bar is 0.
    pub accepted_after_first_rejection: u64,
    /// Calls sent after the revocation response arrived that were still
    /// accepted: the window in which a notice is under way.
    pub accepted_after_response: u64,
}

/// Runs `revocations` rounds: issue a token, let every instance cache it,
/// call all instances in a tight loop, revoke, and watch for the switch.
pub async fn run(
    http: &reqwest::Client,
    api_urls: &[String],
    auth_url: &str,
    client: (&str, &str),
    revocations: usize,
) -> Result<Propagation> {
    let mut delays = Vec::new();
    let mut accepted_after_first_rejection = 0;
    let mut accepted_after_response = 0;
    for _ in 0..revocations {
        let token = crate::access_token(http, auth_url).await?;
        for url in api_urls {
            for _ in 0..2 {
                let status = me(http, url, &token).await?;
                if status != StatusCode::OK {
                    bail!("a fresh token was rejected with {status}");
                }
            }
        }

        let stop = Arc::new(AtomicBool::new(false));
        let mut callers = Vec::new();
        for url in api_urls {
            let (http, url, token, stop) = (http.clone(), url.clone(), token.clone(), stop.clone());
            callers.push(tokio::spawn(async move {
                let mut calls = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let status = me(&http, &url, &token).await?;
                    calls.push((started, Instant::now(), status));
                }
                anyhow::Ok(calls)
            }));
        }

        tokio::time::sleep(Duration::from_millis(30)).await;
        let sent = Instant::now();
        let response = http
            .post(format!("{auth_url}/connect/revocation"))
            .basic_auth(client.0, Some(client.1))
            .form(&[("token", token.as_str())])
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!("revocation failed with {}", response.status());
        }
        let acknowledged = Instant::now();
        tokio::time::sleep(Duration::from_millis(150)).await;
        stop.store(true, Ordering::Relaxed);

        for caller in callers {
            let calls = caller.await??;
            let first_rejection = calls
                .iter()
                .position(|(_, _, status)| *status == StatusCode::UNAUTHORIZED)
                .context("an instance never rejected the revoked token")?;
            let (_, answered, _) = calls[first_rejection];
            delays.push(answered.saturating_duration_since(sent).as_secs_f64() * 1000.0);
            for (started, _, status) in &calls[first_rejection..] {
                if *status == StatusCode::OK {
                    accepted_after_first_rejection += 1;
                }
                if *started > acknowledged && *status == StatusCode::OK {
                    accepted_after_response += 1;
                }
            }
            accepted_after_response += calls[..first_rejection]
                .iter()
                .filter(|(started, _, _)| *started > acknowledged)
                .count() as u64;
            if let Some((_, _, status)) = calls.iter().find(|(_, _, status)| {
                *status != StatusCode::OK && *status != StatusCode::UNAUTHORIZED
            }) {
                bail!("unexpected {status} while watching a revocation");
            }
        }
    }
    delays.sort_by(f64::total_cmp);
    let percentile = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize];
    Ok(Propagation {
        revocations,
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
        max_ms: percentile(1.0),
        accepted_after_first_rejection,
        accepted_after_response,
    })
}

async fn me(http: &reqwest::Client, url: &str, token: &str) -> Result<StatusCode> {
    Ok(http
        .get(format!("{url}/api/me"))
        .bearer_auth(token)
        .send()
        .await?
        .status())
}
