//! The protected API: `/api/me`, the tickets resource and health checks,
//! behind Bearer authentication.

pub mod app;
mod auth;
#[cfg(feature = "bench-routes")]
mod bench_routes;
pub mod cli;
mod me;
mod mode_check;
pub mod state;
mod tickets;
