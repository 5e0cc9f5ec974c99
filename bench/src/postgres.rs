//! PostgreSQL: a scratch database, pgbench as the yardstick, pinning the
//! server's processes to the server core, and counting transactions.

use std::path::Path;

use anyhow::{Context, Result, bail};
use token_core::db::DatabaseUrl;
use tokio_postgres::NoTls;

use crate::servers::{LOAD_CPU, SERVER_CPU};

/// A database created for one run and dropped at the end of it.
pub struct ScratchDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl ScratchDatabase {
    pub async fn create(admin_url: &str, name: &str) -> Result<ScratchDatabase> {
        let (base, _) = admin_url
            .rsplit_once('/')
            .with_context(|| format!("{admin_url} names no database"))?;
        let scratch = ScratchDatabase {
            admin_url: admin_url.to_owned(),
            name: name.to_owned(),
            url: format!("{base}/{name}"),
        };
        scratch.drop_database().await?;
        execute(admin_url, &format!("CREATE DATABASE {name}")).await?;
        Ok(scratch)
    }

    async fn drop_database(&self) -> Result<()> {
        execute(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await
    }

    /// Transactions committed in this database so far, as PostgreSQL's
    /// statistics show them. A backend reports its counts when it exits, so
    /// read this after the clients have disconnected.
    pub async fn committed_transactions(&self) -> Result<i64> {
        let (client, connection) = tokio_postgres::connect(&self.admin_url, NoTls).await?;
        tokio::spawn(connection);
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await?;
        let row = client
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                &[&self.name],
            )
            .await?;
        Ok(row.get(0))
    }

    pub async fn close(self) -> Result<()> {
        self.drop_database().await
    }
}

async fn execute(url: &str, sql: &str) -> Result<()> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", DatabaseUrl::new(url)))?;
    tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}

/// Pins every PostgreSQL process to the server core while alive, so that
/// the database and the service under test share one core as the model
/// behind G3 assumes, and restores the old affinity when dropped.
pub struct PinnedPostgres {
    pids: Vec<u32>,
}

impl PinnedPostgres {
    /// Backends forked later inherit the postmaster's affinity.
    pub fn pin() -> Result<PinnedPostgres> {
        let pids = postgres_pids()?;
        if pids.is_empty() {
            bail!("no local PostgreSQL process found to pin; is the server on this machine?");
        }
        for pid in &pids {
            set_affinity(*pid, SERVER_CPU)?;
        }
        Ok(PinnedPostgres { pids })
    }
}

impl Drop for PinnedPostgres {
    fn drop(&mut self) {
        let all = format!("0-{}", crate::cores().saturating_sub(1));
        // Backends started while pinned inherited the pinning too.
        let mut pids = self.pids.clone();
        pids.extend(postgres_pids().unwrap_or_default());
        for pid in pids {
            // A backend that exited meanwhile has nothing to restore.
            let _ = set_affinity(pid, &all);
        }
    }
}

/// Lists the process ids of every local PostgreSQL process.
fn postgres_pids() -> Result<Vec<u32>> {
    let output = std::process::Command::new("ps")
        .args(["-C", "postgres", "-o", "pid="])
        .output()
        .context("listing PostgreSQL processes with ps")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect())
}

fn set_affinity(pid: u32, cpus: &str) -> Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .context("running taskset")?;
    if !status.success() {
        bail!(
            "taskset could not pin PostgreSQL process {pid} (run the benchmark as the database's owner or root)"
        );
    }
    Ok(())
}

/// pgbench's select-only workload with prepared statements.
pub struct Pgbench {
    url: String,
    clients: u32,
}

/// The figures of one pgbench run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PgbenchRun {
    pub transactions_per_second: f64,
    /// Only for runs at a fixed rate.
    pub p99_ms: Option<f64>,
}

impl Pgbench {
    /// Initializes pgbench's tables in the scratch database.
    pub fn init(database: &ScratchDatabase, clients: u32) -> Result<Pgbench> {
        let output = std::process::Command::new("pgbench")
            .args(["-i", "-q", "-s", "1"])
            .arg(&database.url)
            .output()
            .context("running pgbench -i (install it with apt-get install postgresql-contrib)")?;
        if !output.status.success() {
            bail!(
                "pgbench -i failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(Pgbench {
            url: database.url.clone(),
            clients,
        })
    }

    /// Runs `pgbench -S -M prepared` from the load core, flat out, or at
    /// `rate` transactions per second with per-transaction latencies.
    pub fn run(&self, seconds: u64, rate: Option<u64>, dir: &Path) -> Result<PgbenchRun> {
        let mut command = std::process::Command::new("taskset");
        command
            .args([
                "-c", LOAD_CPU, "pgbench", "-n", "-S", "-M", "prepared", "-j", "1",
            ])
            .arg(format!("-c{}", self.clients))
            .arg(format!("-T{seconds}"))
            .current_dir(dir);
        let log_prefix = "pgbench-latency";
        if let Some(rate) = rate {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(log_prefix) {
                    std::fs::remove_file(entry.path())?;
                }
            }
            command
                .arg(format!("-R{rate}"))
                .arg("-l")
                .arg(format!("--log-prefix={log_prefix}"));
        }
        let output = command.arg(&self.url).output().context("running pgbench")?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "pgbench failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let transactions_per_second = text
            .lines()
            .find_map(|line| {
                let rest = line.trim().strip_prefix("tps = ")?;
                rest.split_whitespace().next()?.parse().ok()
            })
            .with_context(|| format!("no tps in pgbench output:\n{text}"))?;
        let p99_ms = match rate {
            Some(_) => Some(logged_p99_ms(dir, log_prefix)?),
            None => None,
        };
        Ok(PgbenchRun {
            transactions_per_second,
            p99_ms,
        })
    }
}

/// Computes the 99th percentile of the latencies in pgbench's transaction
/// logs, whose third column is the latency in microseconds. Under `-R` it
/// includes the wait behind the schedule.
fn logged_p99_ms(dir: &Path, prefix: &str) -> Result<f64> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        for line in std::fs::read_to_string(entry.path())?.lines() {
            if let Some(Ok(micros)) = line.split_whitespace().nth(2).map(str::parse::<f64>) {
                latencies.push(micros / 1000.0);
            }
        }
    }
    if latencies.is_empty() {
        bail!("pgbench wrote no transaction log");
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies[(latencies.len() - 1) * 99 / 100])
}
