//! Binding listeners from an `Urls` setting.

use std::fmt;
use std::net::TcpListener;

use actix_http::body::MessageBody;
use actix_http::{Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::dev::AppConfig;
use actix_web::{Error, HttpServer};

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

/// Serves the app on the bound listeners until SIGINT or SIGTERM, then lets
/// in-flight requests finish. Announces the addresses once bound.
pub async fn run<F, I, S, B>(listeners: &[TcpListener], factory: F) -> Result<(), String>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let mut http = HttpServer::new(factory);
    for listener in listeners {
        let listener = listener
            .try_clone()
            .map_err(|error| format!("cannot use listener: {error}"))?;
        http = http
            .listen(listener)
            .map_err(|error| format!("cannot listen: {error}"))?;
    }
    announce(listeners);
    http.run()
        .await
        .map_err(|error| format!("the server stopped with an error: {error}"))
}
