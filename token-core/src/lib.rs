//! Everything the Auth and API servers must agree on: settings, database
//! schema and queries, token issuing and hashing, and the one validation
//! function both use. Holds no web types; each server maps [`Error`] to HTTP.

pub mod cleanup;
pub mod clients;
pub mod db;
pub mod error;
pub mod events;
pub mod jwt;
pub mod keys;
pub mod mode;
pub mod password;
pub mod pg_lookup;
pub mod scope;
pub mod secret;
pub mod sessions;
pub mod settings;
pub mod startup;
pub mod tickets;
pub mod time;
pub mod tokens;
pub mod users;
pub mod validation;
pub mod validation_cache;

pub use error::Error;
pub use secret::Secret;
pub use settings::Settings;
