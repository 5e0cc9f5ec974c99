//! Throughput with wrk, pinned to the load generator's CPU.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::servers::LOAD_CPU;

/// One load configuration: a URL, and for POST a body and headers.
#[derive(Clone)]
pub struct Target {
    pub name: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub post_body: Option<String>,
}

/// The figures of one wrk run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Measured {
    pub requests_per_second: f64,
    /// Requests completed in the run.
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Responses other than 2xx and 3xx; a valid run has none.
    pub errors: u64,
}

/// Runs wrk against `target` for `seconds` with one thread and
/// `connections` connections.
pub fn run(target: &Target, seconds: u64, connections: u32, dir: &Path) -> Result<Measured> {
    let script = dir.join(format!("{}.lua", target.name));
    std::fs::write(&script, lua_script(target))?;
    let output = std::process::Command::new("taskset")
        .args(["-c", LOAD_CPU, "wrk", "--latency", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(&script)
        .arg(&target.url)
        .output()
        .context("running wrk (install it with apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

fn lua_script(target: &Target) -> String {
    let mut script = String::new();
    if let Some(body) = &target.post_body {
        script.push_str("wrk.method = \"POST\"\n");
        script.push_str(&format!("wrk.body = {}\n", lua_string(body)));
    }
    for (name, value) in &target.headers {
        script.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name),
            lua_string(value)
        ));
    }
    script
}

fn lua_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn parse(text: &str) -> Option<Measured> {
    let mut requests_per_second = None;
    let mut requests = None;
    let mut p50_ms = None;
    let mut p99_ms = None;
    let mut errors = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => requests_per_second = value.parse().ok(),
            [count, "requests", "in", ..] => requests = count.parse().ok(),
            ["50%", value] => p50_ms = duration_ms(value),
            ["99%", value] => p99_ms = duration_ms(value),
            ["Non-2xx", "or", "3xx", "responses:", value] => errors = value.parse().ok()?,
            _ => {}
        }
    }
    Some(Measured {
        requests_per_second: requests_per_second?,
        requests: requests?,
        p50_ms: p50_ms?,
        p99_ms: p99_ms?,
        errors,
    })
}

/// Converts wrk's "850.00us", "1.20ms" or "2.00s" to milliseconds.
fn duration_ms(value: &str) -> Option<f64> {
    let (number, factor) = if let Some(number) = value.strip_suffix("us") {
        (number, 0.001)
    } else if let Some(number) = value.strip_suffix("ms") {
        (number, 1.0)
    } else if let Some(number) = value.strip_suffix('s') {
        (number, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let text = "Running 5s test @ http://x\n  Latency Distribution\n     50%  640.00us\n     75%    1.00ms\n     90%    1.50ms\n     99%    2.10ms\n  1000 requests in 5.00s, 1.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  20000.50\nTransfer/sec: 1.00MB\n";
        let measured = parse(text).unwrap();
        assert_eq!(measured.requests_per_second, 20000.5);
        assert_eq!(measured.requests, 1000);
        assert_eq!(measured.p50_ms, 0.64);
        assert_eq!(measured.p99_ms, 2.1);
        assert_eq!(measured.errors, 3);
    }
}
