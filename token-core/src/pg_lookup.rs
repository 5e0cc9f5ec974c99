//! Reference-token lookups on PostgreSQL from async code, without a
//! blocking thread.
//!
//! diesel's PostgreSQL connection is synchronous, so a lookup through the
//! pool went to a blocking thread and back: profiling the API under load
//! showed most of its time in those thread switches. Here each async worker
//! thread keeps one tokio-postgres connection of its own, which pipelines
//! the concurrent lookups of that worker.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::db::DatabaseUrl;
use crate::error::Error;
use crate::tokens::TokenRow;
use crate::validation::LookedUp;

/// The same lookup as the diesel query of the synchronous path.
const LOOKUP: &str = "SELECT t.hash, t.kind, t.session_id, t.client_id, t.subject, t.scopes, \
    t.created, t.expires, t.revoked_at, t.family_id, \
    s.ended_at, s.expires, c.enabled, u.enabled \
    FROM tokens t \
    JOIN sessions s ON s.id = t.session_id \
    JOIN clients c ON c.id = s.client_id \
    LEFT JOIN users u ON u.id = s.user_id \
    WHERE t.hash = $1";

/// After a failed connection attempt, lookups fail at once (503) for this
/// long instead of each waiting for a connection of its own.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(250);

/// Opens and keeps the per-thread connections.
pub struct PgLookup {
    url: DatabaseUrl,
    connect_timeout: Duration,
    statement_timeout: Duration,
}

struct Connected {
    client: Client,
    lookup: Statement,
}

enum Slot {
    Empty,
    Ready(Rc<Connected>),
    Failed(Instant),
}

thread_local! {
    static SLOT: RefCell<Slot> = const { RefCell::new(Slot::Empty) };
}

impl PgLookup {
    pub fn new(url: DatabaseUrl, connect_timeout: Duration, statement_timeout: Duration) -> Self {
        PgLookup {
            url,
            connect_timeout,
            statement_timeout,
        }
    }

    /// Looks up a token by the hash of its handle. Must run on the thread
    /// of a Tokio runtime, which also drives the connection.
    pub(crate) async fn find(&self, hash: &str) -> Result<Option<LookedUp>, Error> {
        let connected = self.connection().await?;
        // The statement timeout cancels a query stuck behind a lock. This
        // timeout ends a wait on a connection that silently stopped
        // responding.
        let limit = self.statement_timeout + Duration::from_secs(1);
        let result = tokio::time::timeout(
            limit,
            connected.client.query_opt(&connected.lookup, &[&hash]),
        )
        .await;
        match result {
            Ok(Ok(row)) => row.map(|row| looked_up(&row)).transpose(),
            Ok(Err(error)) => {
                if connected.client.is_closed() {
                    SLOT.with(|slot| *slot.borrow_mut() = Slot::Empty);
                }
                Err(Error::Unavailable(format!("token lookup failed: {error}")))
            }
            Err(_) => {
                SLOT.with(|slot| *slot.borrow_mut() = Slot::Empty);
                Err(Error::Unavailable("token lookup timed out".into()))
            }
        }
    }

    async fn connection(&self) -> Result<Rc<Connected>, Error> {
        let current = SLOT.with(|slot| match &*slot.borrow() {
            Slot::Ready(connected) if !connected.client.is_closed() => Ok(Some(connected.clone())),
            Slot::Failed(at) if at.elapsed() < RETRY_AFTER_FAILURE => Err(Error::Unavailable(
                format!("cannot connect to database {}", self.url),
            )),
            _ => Ok(None),
        })?;
        if let Some(connected) = current {
            return Ok(connected);
        }
        match self.connect().await {
            Ok(connected) => {
                let connected = Rc::new(connected);
                SLOT.with(|slot| *slot.borrow_mut() = Slot::Ready(connected.clone()));
                Ok(connected)
            }
            Err(error) => {
                SLOT.with(|slot| *slot.borrow_mut() = Slot::Failed(Instant::now()));
                Err(error)
            }
        }
    }

    async fn connect(&self) -> Result<Connected, Error> {
        let unavailable = |error: String| {
            Error::Unavailable(format!("cannot connect to database {}: {error}", self.url))
        };
        let connecting = tokio_postgres::connect(self.url.expose(), NoTls);
        let (client, connection) = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| unavailable("timed out".into()))?
            .map_err(|error| unavailable(error.to_string()))?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away. The
            // next lookup then finds the client closed and reconnects.
            let _ = connection.await;
        });
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                self.statement_timeout.as_millis()
            ))
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        let lookup = client
            .prepare(LOOKUP)
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        Ok(Connected { client, lookup })
    }
}

fn looked_up(row: &Row) -> Result<LookedUp, Error> {
    let read =
        |error: tokio_postgres::Error| Error::Internal(format!("reading a token row: {error}"));
    Ok(LookedUp {
        row: TokenRow {
            hash: row.try_get(0).map_err(read)?,
            kind: row.try_get(1).map_err(read)?,
            session_id: row.try_get(2).map_err(read)?,
            client_id: row.try_get(3).map_err(read)?,
            subject: row.try_get(4).map_err(read)?,
            scopes: row.try_get(5).map_err(read)?,
            created: row.try_get(6).map_err(read)?,
            expires: row.try_get(7).map_err(read)?,
            revoked_at: row.try_get(8).map_err(read)?,
            family_id: row.try_get(9).map_err(read)?,
        },
        ended_at: row.try_get(10).map_err(read)?,
        session_expires: row.try_get(11).map_err(read)?,
        client_enabled: row.try_get(12).map_err(read)?,
        user_enabled: row.try_get(13).map_err(read)?,
    })
}
