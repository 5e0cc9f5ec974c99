//! The protected API: `/api/me`, the tickets resource and health checks,
//! behind Bearer authentication.

pub mod app;
mod auth;
pub mod cli;
mod me;
mod mode_check;
pub mod state;
mod tickets;
