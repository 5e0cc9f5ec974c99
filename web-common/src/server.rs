//! Binding listeners from an `Urls` setting.

use std::net::TcpListener;

use token_core::settings::{ListenAddress, SettingsError, listen_addresses};

/// Binds every address of an `Urls` setting. Port 0 picks a free port.
pub fn bind(key: &str, urls: &str) -> Result<Vec<TcpListener>, String> {
    let addresses =
        listen_addresses(key, urls).map_err(|error: SettingsError| error.to_string())?;
    addresses
        .iter()
        .map(|address| bind_one(key, address))
        .collect()
}

fn bind_one(key: &str, address: &ListenAddress) -> Result<TcpListener, String> {
    TcpListener::bind((address.host.as_str(), address.port))
        .map_err(|error| format!("cannot listen on {address} (from {key}): {error}"))
}

/// Prints the bound addresses on standard output, one line each, in the
/// form ASP.NET uses, so that scripts and tests can find a port picked with
/// port 0.
pub fn announce(listeners: &[TcpListener]) {
    for listener in listeners {
        if let Ok(address) = listener.local_addr() {
            println!("Now listening on: http://{address}");
        }
    }
}
