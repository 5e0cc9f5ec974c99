//! HTTP pieces that the Auth and API servers share.

pub mod api_error;
pub mod bearer;
pub mod blocking;
pub mod errors;
pub mod health;
pub mod logging;
pub mod server;
