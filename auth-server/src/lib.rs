//! The OAuth 2.0 authorization server: token, revocation, introspection and
//! end-session endpoints, discovery, and the admin command line.

mod admin;
mod admin_cli;
pub mod app;
mod bearer_auth;
mod checkpoint_job;
mod cleanup_job;
pub mod cli;
pub mod client_auth;
mod discovery;
mod endsession;
pub mod form;
mod introspection;
pub mod oauth_error;
mod password_limit;
mod rate_limit;
mod revocation;
mod sessions;
pub mod state;
mod table;
mod token_endpoint;
