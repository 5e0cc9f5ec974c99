//! Login sessions: listing them and ending them.
//!
//! Ending a session sets `ended_at` and revokes every token in it in one
//! transaction. JWT access tokens are not stored, so they stay valid until
//! they expire; everything else stops at once.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{sessions, tokens, users};
use crate::db::{DbConnection, write_transaction};
use crate::error::Error;
use crate::events::{self, Invalidation};
use crate::time::now;

/// A session as the HTTP routes and the admin commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: String,
    /// The user id, or the client id for `client_credentials`.
    pub subject: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub client_id: String,
    pub created: i64,
    pub last_seen: i64,
    pub expires: i64,
}

type SessionRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
);

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        let (id, subject, user_id, username, client_id, created, last_seen, expires) = row;
        Session {
            id,
            subject,
            user_id,
            username,
            client_id,
            created,
            last_seen,
            expires,
        }
    }
}

/// A filter on live sessions; `None` fields match everything.
#[derive(Debug, Default, Clone)]
pub struct SessionFilter {
    pub subject: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
}

/// Lists live sessions (not ended, not expired), newest first.
pub fn list_live(conn: &mut DbConnection, filter: &SessionFilter) -> Result<Vec<Session>, Error> {
    let mut query = sessions::table
        .left_join(users::table)
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires.gt(now()))
        .select((
            sessions::id,
            sessions::subject,
            sessions::user_id,
            users::username.nullable(),
            sessions::client_id,
            sessions::created,
            sessions::last_seen,
            sessions::expires,
        ))
        .order((sessions::created.desc(), sessions::id.asc()))
        .into_boxed();
    if let Some(subject) = &filter.subject {
        query = query.filter(sessions::subject.eq(subject.clone()));
    }
    if let Some(user_id) = &filter.user_id {
        query = query.filter(sessions::user_id.eq(user_id.clone()));
    }
    if let Some(client_id) = &filter.client_id {
        query = query.filter(sessions::client_id.eq(client_id.clone()));
    }
    let rows: Vec<SessionRow> = query.load(conn)?;
    Ok(rows.into_iter().map(Session::from).collect())
}

/// Counts of what an end-session call changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ended {
    pub ended_sessions: usize,
    pub revoked_tokens: usize,
}

/// Ends one live session if `subject` owns it (any owner when `None`).
/// Returns `None` when there is no such live session.
pub fn end_one(
    conn: &mut DbConnection,
    session_id: &str,
    subject: Option<&str>,
) -> Result<Option<Ended>, Error> {
    write_transaction(conn, |conn| {
        let mut query = sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::ended_at.is_null())
            .select(sessions::id)
            .into_boxed();
        if let Some(subject) = subject {
            query = query.filter(sessions::subject.eq(subject.to_owned()));
        }
        let found = query.first::<String>(conn).optional()?;
        let Some(id) = found else {
            return Ok(None);
        };
        Ok(Some(end_sessions(conn, &[id], now())?))
    })
}

/// Ends every live session of `subject`, except `keep` if given.
pub fn end_all_of_subject(
    conn: &mut DbConnection,
    subject: &str,
    keep: Option<&str>,
) -> Result<Ended, Error> {
    write_transaction(conn, |conn| {
        let mut ids: Vec<String> = sessions::table
            .filter(sessions::subject.eq(subject))
            .filter(sessions::ended_at.is_null())
            .select(sessions::id)
            .load(conn)?;
        if let Some(keep) = keep {
            ids.retain(|id| id != keep);
        }
        end_sessions(conn, &ids, now())
    })
}

/// Ends every live session of a user.
pub fn end_all_of_user(conn: &mut DbConnection, user_id: &str) -> Result<Ended, Error> {
    write_transaction(conn, |conn| {
        let ids: Vec<String> = sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null())
            .select(sessions::id)
            .load(conn)?;
        end_sessions(conn, &ids, now())
    })
}

/// Ends the given sessions and revokes their tokens. The caller must have
/// opened the write transaction.
pub(crate) fn end_sessions(
    conn: &mut DbConnection,
    ids: &[String],
    now: i64,
) -> Result<Ended, Error> {
    let mut ended = Ended::default();
    for id in ids {
        ended.ended_sessions += diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::ended_at.is_null()),
        )
        .set(sessions::ended_at.eq(now))
        .execute(conn)?;
        ended.revoked_tokens += diesel::update(
            tokens::table
                .filter(tokens::session_id.eq(id))
                .filter(tokens::revoked_at.is_null()),
        )
        .set(tokens::revoked_at.eq(now))
        .execute(conn)?;
        events::notify(conn, &Invalidation::Session(id.clone()))?;
    }
    Ok(ended)
}
