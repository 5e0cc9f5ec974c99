//! Notices that a token stopped being valid, sent with PostgreSQL `NOTIFY`
//! so that API instances caching validations drop what they hold.
//!
//! Each notice is sent inside the transaction that makes the change, so
//! PostgreSQL delivers it exactly when that change commits, and never for
//! a change rolled back. On SQLite nothing is sent: no instance caches.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::db::DbConnection;

/// The channel the notices travel on.
pub const CHANNEL: &str = "token_events";

/// A change that ended the validity of tokens. A notice may cover more
/// than what changed (a whole session for one refresh family, say). A
/// cache then looks up a few live tokens again, which costs a query and
/// nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// One token, by the hash of its handle.
    Token(String),
    /// Every token of a session.
    Session(String),
    /// Every token whose subject is this user.
    User(String),
    /// Every token issued to this client.
    Client(String),
}

impl Invalidation {
    /// Returns the `NOTIFY` payload: a one-letter kind, a colon and the id.
    pub fn payload(&self) -> String {
        let (kind, id) = match self {
            Invalidation::Token(hash) => ('t', hash),
            Invalidation::Session(id) => ('s', id),
            Invalidation::User(id) => ('u', id),
            Invalidation::Client(id) => ('c', id),
        };
        format!("{kind}:{id}")
    }

    /// Parses a payload; `None` for anything this version does not know.
    pub fn parse(payload: &str) -> Option<Invalidation> {
        let (kind, id) = payload.split_once(':')?;
        let id = id.to_owned();
        match kind {
            "t" => Some(Invalidation::Token(id)),
            "s" => Some(Invalidation::Session(id)),
            "u" => Some(Invalidation::User(id)),
            "c" => Some(Invalidation::Client(id)),
            _ => None,
        }
    }
}

/// Queues the notice in the current transaction (PostgreSQL only).
pub fn notify(conn: &mut DbConnection, what: &Invalidation) -> Result<(), diesel::result::Error> {
    if let DbConnection::Pg(inner) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(what.payload())
            .execute(inner)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        for what in [
            Invalidation::Token("ab12".into()),
            Invalidation::Session("s-1".into()),
            Invalidation::User("u:with:colons".into()),
            Invalidation::Client("bench".into()),
        ] {
            assert_eq!(Invalidation::parse(&what.payload()), Some(what));
        }
        assert_eq!(Invalidation::parse("x:1"), None);
        assert_eq!(Invalidation::parse("nothing"), None);
    }
}
