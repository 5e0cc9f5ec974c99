//! An in-memory cache of validated reference tokens, for many API instances
//! on one PostgreSQL database (`Tokens:ValidationCache`).
//!
//! A cached token is dropped the moment PostgreSQL delivers the notice that
//! it was revoked, its session ended or its user or client was disabled
//! (see [`crate::events`]). While the notice connection is down the cache
//! is empty and bypassed, because notices sent meanwhile are lost.
//!
//! Between a revocation's commit and the arrival of its notice (a few
//! milliseconds) an instance may still accept the token. Without the cache
//! the next call after the commit is rejected. That window is the price of
//! the saved query, which is why the cache is off by default.

mod listener;

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use self::listener::spawn_listener;
use crate::events::Invalidation;
use crate::time::now;
use crate::validation::TokenGrant;

/// Validated access tokens by the hash of their handle.
pub struct ValidationCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Counts invalidations and clears. A lookup that saw another value
    /// before its query does not store its result, which may predate the
    /// change that the notice announced.
    generation: AtomicU64,
    /// Whether the notice connection is listening.
    listening: AtomicBool,
    capacity: usize,
    max_age: Duration,
}

struct Entry {
    grant: TokenGrant,
    /// Unix time at which the token or its session expires.
    valid_until: i64,
    stored: Instant,
}

/// Permission to store the result of one lookup, taken before its query.
#[derive(Debug, Clone, Copy)]
pub struct StoreTicket(u64);

impl ValidationCache {
    /// Creates a cache of at most `capacity` tokens, each kept at most
    /// `max_age`.
    /// It stays bypassed until [`ValidationCache::start_listening`].
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        ValidationCache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            capacity,
            max_age,
        }
    }

    /// Returns the cached grant of a token, if it is cached and still live.
    pub fn get(&self, hash: &str) -> Option<TokenGrant> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let entry = entries.get(hash)?;
        let live = entry.valid_until > now() && entry.stored.elapsed() < self.max_age;
        live.then(|| entry.grant.clone())
    }

    /// Taken before a lookup's query; `None` while the cache is bypassed.
    pub fn ticket(&self) -> Option<StoreTicket> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        Some(StoreTicket(self.generation.load(Ordering::Acquire)))
    }

    /// Stores a lookup's result unless an invalidation arrived since its
    /// ticket was taken.
    pub fn store(&self, ticket: StoreTicket, hash: String, grant: TokenGrant, valid_until: i64) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        // Read under the write lock: invalidations bump it under the same
        // lock, so no notice can slip in between this check and the insert.
        if self.generation.load(Ordering::Acquire) != ticket.0
            || !self.listening.load(Ordering::Acquire)
        {
            return;
        }
        if entries.len() >= self.capacity {
            let now = now();
            let max_age = self.max_age;
            entries.retain(|_, entry| entry.valid_until > now && entry.stored.elapsed() < max_age);
            if entries.len() >= self.capacity {
                return;
            }
        }
        entries.insert(
            hash,
            Entry {
                grant,
                valid_until,
                stored: Instant::now(),
            },
        );
    }

    /// Drops every cached token that `what` covers.
    pub fn invalidate(&self, what: &Invalidation) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        match what {
            Invalidation::Token(hash) => {
                entries.remove(hash);
            }
            Invalidation::Session(id) => entries.retain(|_, entry| entry.grant.session_id != *id),
            Invalidation::User(id) => entries.retain(|_, entry| entry.grant.subject != *id),
            Invalidation::Client(id) => entries.retain(|_, entry| entry.grant.client_id != *id),
        }
    }

    /// Empties the cache and starts using it: the notice connection has
    /// just started listening, so from now on no notice is missed.
    pub fn start_listening(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.listening.store(true, Ordering::Release);
    }

    /// Empties the cache.
    pub fn clear(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Empties the cache and bypasses it until the notice connection
    /// listens again.
    pub fn stop_listening(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        self.listening.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Returns whether the cache is in use.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Returns how many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenFormat;

    fn grant(session: &str, subject: &str, client: &str) -> TokenGrant {
        TokenGrant {
            format: TokenFormat::Reference,
            kind: "access",
            subject: subject.into(),
            client_id: client.into(),
            scope: "all".into(),
            session_id: session.into(),
            issued_at: now(),
            expires: now() + 60,
        }
    }

    fn listening_cache() -> ValidationCache {
        let cache = ValidationCache::new(10, Duration::from_secs(60));
        cache.start_listening();
        cache
    }

    #[test]
    fn bypassed_until_listening() {
        let cache = ValidationCache::new(10, Duration::from_secs(60));
        assert!(cache.ticket().is_none());
        cache.start_listening();
        let ticket = cache.ticket().unwrap();
        cache.store(ticket, "h".into(), grant("s", "u", "c"), now() + 60);
        assert!(cache.get("h").is_some());

        cache.stop_listening();
        assert!(cache.get("h").is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn an_invalidation_during_a_lookup_prevents_storing_it() {
        let cache = listening_cache();
        let ticket = cache.ticket().unwrap();
        cache.invalidate(&Invalidation::Token("other".into()));
        cache.store(ticket, "h".into(), grant("s", "u", "c"), now() + 60);
        assert!(cache.get("h").is_none());
    }

    #[test]
    fn invalidations_drop_what_they_cover() {
        let cache = listening_cache();
        for (hash, session, user, client) in [
            ("t1", "s1", "u1", "c1"),
            ("t2", "s2", "u1", "c1"),
            ("t3", "s3", "u2", "c1"),
            ("t4", "s4", "u3", "c2"),
            ("t5", "s5", "u4", "c3"),
        ] {
            let ticket = cache.ticket().unwrap();
            cache.store(
                ticket,
                hash.into(),
                grant(session, user, client),
                now() + 60,
            );
        }
        cache.invalidate(&Invalidation::Token("t5".into()));
        assert!(cache.get("t5").is_none());
        cache.invalidate(&Invalidation::Session("s1".into()));
        assert!(cache.get("t1").is_none());
        assert!(cache.get("t2").is_some());
        cache.invalidate(&Invalidation::User("u1".into()));
        assert!(cache.get("t2").is_none());
        cache.invalidate(&Invalidation::Client("c1".into()));
        assert!(cache.get("t3").is_none());
        assert!(cache.get("t4").is_some());
    }

    #[test]
    fn expired_and_old_entries_are_not_served() {
        let cache = ValidationCache::new(10, Duration::from_millis(20));
        cache.start_listening();
        let ticket = cache.ticket().unwrap();
        cache.store(ticket, "expired".into(), grant("s", "u", "c"), now() - 1);
        assert!(cache.get("expired").is_none());
        cache.store(ticket, "old".into(), grant("s", "u", "c"), now() + 60);
        assert!(cache.get("old").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get("old").is_none());
    }

    #[test]
    fn a_full_cache_makes_room_only_from_dead_entries() {
        let cache = ValidationCache::new(2, Duration::from_secs(60));
        cache.start_listening();
        let ticket = cache.ticket().unwrap();
        cache.store(ticket, "dead".into(), grant("s", "u", "c"), now() - 1);
        cache.store(ticket, "a".into(), grant("s", "u", "c"), now() + 60);
        cache.store(ticket, "b".into(), grant("s", "u", "c"), now() + 60);
        assert!(cache.get("b").is_some(), "the dead entry made room");
        cache.store(ticket, "c".into(), grant("s", "u", "c"), now() + 60);
        assert!(cache.get("c").is_none(), "no room among live entries");
        assert_eq!(cache.len(), 2);
    }
}
