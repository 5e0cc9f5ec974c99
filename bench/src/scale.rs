//! G8: filling a SQLite database with stored tokens, so that validation
//! latency can be compared between a small and a very large token table.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

/// Rows inserted per transaction, in key order within each. Random keys
/// inserted one by one took 400 s for ten million rows, because every
/// insert lands on a different page of the clustered table. Sorted chunks
/// take a quarter of that, and the tree still grows by merging runs of
/// random keys, not by appending.
const CHUNK: u64 = 2_500_000;

/// Adds `count` live access tokens of one filler session to the database
/// at `path`, with random hashes like real ones. The bench client must
/// exist.
pub fn fill(path: &Path, count: u64) -> Result<()> {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
        .with_context(|| format!("opening {}", path.display()))?;
    // Durability does not matter for a scratch file; speed of the fill
    // does. The page cache (6 GB) fits the whole table of ten million
    // rows, so that inserts do not read pages back from disk.
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -6000000;",
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    conn.batch_execute(&format!(
        "INSERT OR IGNORE INTO sessions (id, subject, client_id, user_id, created, last_seen, expires, ended_at) \
         VALUES ('filler', 'filler', 'bench', NULL, {now}, {now}, {expires}, NULL);",
        expires = now + 86_400
    ))?;

    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let chunk = CHUNK.min(count - done);
        conn.batch_execute(&format!(
            "BEGIN; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {chunk}) \
             INSERT INTO tokens (hash, kind, session_id, client_id, subject, scopes, created, expires, revoked_at, family_id) \
             SELECT hash, 'access', 'filler', 'bench', 'filler', 'all', {now}, {expires}, NULL, 'filler' \
             FROM (SELECT lower(hex(randomblob(32))) AS hash FROM n) ORDER BY hash; \
             COMMIT;",
            expires = now + 86_400
        ))?;
        done += chunk;
        if count > CHUNK {
            eprintln!(
                "  {done} of {count} tokens stored ({:.0?})",
                started.elapsed()
            );
        }
    }
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

/// Tokens stored in the database at `path`.
pub fn count(path: &Path) -> Result<i64> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    let found =
        diesel::sql_query("SELECT count(*) AS count FROM tokens").get_result::<Count>(&mut conn)?;
    Ok(found.count)
}

/// Stored tokens of the small database.
const SMALL: u64 = 10_000;

/// G8: p50 latency of `/api/me` with one token, on a database holding
/// `options.large_tokens` tokens against one holding ten thousand, each
/// served by its own API server at the same fixed rate, in turns.
pub async fn measure(
    binaries: &crate::servers::Binaries,
    dir: &Path,
    options: &crate::Options,
    report: &mut serde_json::Value,
) -> Result<()> {
    use crate::servers::Server;

    let small_path = dir.join("small.db");
    let large_path = dir.join("large.db");
    let small_settings = dir.join("appsettings-small.json");
    let large_settings = dir.join("appsettings-large.json");
    crate::write_settings(
        &small_settings,
        &format!("sqlite://{}", small_path.display()),
    )?;
    crate::write_settings(
        &large_settings,
        &format!("sqlite://{}", large_path.display()),
    )?;
    crate::add_client(binaries, &small_settings).await?;

    // One token, issued into the small database before it is copied, so
    // both databases hold it.
    let token = {
        let auth = Server::start(
            &binaries.auth_server,
            &small_settings,
            &[("UseReferenceTokens", "true")],
            &dir.join("auth-small.log"),
        )
        .await?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        crate::access_token(&http, &auth.url).await?
    };
    // The Auth server has exited, so SQLite has folded its WAL back into
    // the file and the copy is whole.
    fill(&small_path, SMALL)?;
    std::fs::copy(&small_path, &large_path)?;
    let started = Instant::now();
    eprintln!("storing {} tokens for G8...", options.large_tokens);
    fill(&large_path, options.large_tokens.saturating_sub(SMALL))?;
    eprintln!("stored in {:.0?}", started.elapsed());
    let (small_count, large_count) = (count(&small_path)?, count(&large_path)?);

    let small = Server::start(
        &binaries.api_server,
        &small_settings,
        &[],
        &dir.join("api-small.log"),
    )
    .await?;
    let large = Server::start(
        &binaries.api_server,
        &large_settings,
        &[],
        &dir.join("api-large.log"),
    )
    .await?;
    let headers = crate::bearer(&token);
    let rate = 2_000;
    let (mut ratios, mut small_p50, mut large_p50) = (Vec::new(), Vec::new(), Vec::new());
    for url in [&small.url, &large.url] {
        crate::latency::fixed_rate(&format!("{url}/api/me"), &headers, rate, 2)?;
    }
    for _ in 0..options.repeats {
        let on_small = crate::latency::fixed_rate(
            &format!("{}/api/me", small.url),
            &headers,
            rate,
            options.seconds,
        )?;
        let on_large = crate::latency::fixed_rate(
            &format!("{}/api/me", large.url),
            &headers,
            rate,
            options.seconds,
        )?;
        ratios.push(on_large.p50_ms / on_small.p50_ms);
        small_p50.push(on_small.p50_ms);
        large_p50.push(on_large.p50_ms);
    }
    let g8 = crate::median(ratios.clone());
    report["G8"] = serde_json::json!({
        "rate": rate,
        "stored_tokens": [small_count, large_count],
        "p50_ms_small": small_p50,
        "p50_ms_large": large_p50,
        "ratio_per_round": ratios,
    });
    crate::add_row(
        report,
        "G8",
        &format!(
            "p50 validation latency with {large_count} stored tokens ÷ with {small_count} (at {rate} requests/s)"
        ),
        format!("{g8:.2}"),
        "<= 1.2",
        g8 <= 1.2,
    );
    Ok(())
}
