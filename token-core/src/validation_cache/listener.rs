//! The notice connection: `LISTEN` on its own PostgreSQL connection, with a
//! heartbeat so that a silently dropped connection is noticed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::ValidationCache;
use crate::db::DatabaseUrl;
use crate::events::{CHANNEL, Invalidation};

/// How often the connection is checked while no notice arrives. PostgreSQL
/// sends nothing to an idle listener, so a dropped connection would go
/// unnoticed for as long as the cache trusts it.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Pause before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Keeps `cache` listening for notices on `url` for as long as the process
/// runs, reconnecting after any failure. Call from within a Tokio runtime.
pub fn spawn_listener(cache: Arc<ValidationCache>, url: DatabaseUrl) {
    tokio::spawn(async move {
        // Set while failing, so that a long outage logs once, not twice a
        // second.
        let mut failing = false;
        loop {
            let reason = listen(&cache, &url, &mut failing).await;
            cache.stop_listening();
            if !failing {
                tracing::warn!(
                    database = %url,
                    reason = %reason,
                    "validation cache bypassed: no notice connection"
                );
                failing = true;
            }
            tokio::time::sleep(RECONNECT_DELAY).await;
        }
    });
}

/// Connects, listens and serves notices until the connection fails;
/// returns why it failed.
async fn listen(cache: &Arc<ValidationCache>, url: &DatabaseUrl, failing: &mut bool) -> String {
    let (client, mut connection) = match tokio_postgres::connect(url.expose(), NoTls).await {
        Ok(connected) => connected,
        Err(error) => return format!("cannot connect: {error}"),
    };

    // The connection object delivers notices and must be polled for the
    // client's queries to make progress, so it runs as its own task.
    let notices = Arc::clone(cache);
    let mut driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notice)) if notice.channel() == CHANNEL => {
                    match Invalidation::parse(notice.payload()) {
                        Some(what) => notices.invalidate(&what),
                        // From a newer version: dropping everything is safe.
                        None => notices.clear(),
                    }
                }
                Ok(_) => {}
                Err(error) => return format!("connection failed: {error}"),
            }
        }
        "connection closed".to_owned()
    });

    let statement = format!("LISTEN {CHANNEL}");
    let listened = tokio::select! {
        result = client.batch_execute(&statement) => result,
        reason = &mut driver => return reason.unwrap_or_else(|error| error.to_string()),
    };
    if let Err(error) = listened {
        driver.abort();
        return format!("LISTEN failed: {error}");
    }
    cache.start_listening();
    tracing::info!(database = %url, "validation cache in use");
    *failing = false;

    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let reason = loop {
        tokio::select! {
            reason = &mut driver => {
                return reason.unwrap_or_else(|error| error.to_string());
            }
            _ = heartbeat.tick() => {
                match tokio::time::timeout(HEARTBEAT, client.simple_query("SELECT 1")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => break format!("heartbeat failed: {error}"),
                    Err(_) => break "heartbeat timed out".to_owned(),
                }
            }
        }
    };
    driver.abort();
    reason
}
