//! Builds and runs the HTTP server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, web};
use token_core::Settings;
use token_core::db::DbPool;
use token_core::keys::{self, KeyCache};
use token_core::mode;
use token_core::tokens::Issuer;
use token_core::validation::Validator;
use web_common::{api_error, health, logging, server};

use crate::password_limit::PasswordLimit;
use crate::rate_limit::{self, RateLimits};
use crate::state::AuthState;
use crate::{admin, discovery, endsession, introspection, revocation, sessions, token_endpoint};

/// Loads the signing keys and builds the shared state.
pub fn build_state(settings: Settings, pool: DbPool) -> Result<AuthState, token_core::Error> {
    let mut conn = pool.get()?;
    let key_set = keys::load_or_create(&mut conn)?;
    let keys = Arc::new(KeyCache::new(pool.clone(), key_set));
    let issuer = Issuer::new(&settings, keys.current());
    mode::record_issued_format(&mut conn, issuer.format())?;
    drop(conn);
    let validator = Validator::new(pool.clone(), keys.clone(), &settings);
    let rate_limits = RateLimits::new(&settings.rate_limiting);
    let password_limit = PasswordLimit::new(
        settings.password_hash_concurrency(),
        Duration::from_secs(settings.database.connection_timeout_seconds),
    );
    Ok(AuthState {
        settings,
        pool,
        issuer,
        keys,
        validator,
        rate_limits,
        password_limit,
    })
}

/// Registers every route of the Auth server.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .configure(api_error::configure_extractors)
        .route(
            "/.well-known/openid-configuration",
            web::get().to(discovery::metadata),
        )
        .route("/.well-known/jwks.json", web::get().to(discovery::jwks))
        .service(
            web::resource("/connect/token")
                .wrap(from_fn(rate_limit::limit_by_address))
                .route(web::post().to(token_endpoint::token)),
        )
        .service(
            web::resource("/connect/revocation")
                .wrap(from_fn(rate_limit::limit_by_address))
                .route(web::post().to(revocation::revoke)),
        )
        .service(
            web::resource("/connect/introspect")
                .wrap(from_fn(rate_limit::limit_by_address))
                .route(web::post().to(introspection::introspect)),
        )
        .route(
            "/connect/endsession",
            web::post().to(endsession::end_session),
        )
        .route("/connect/sessions", web::get().to(sessions::list))
        .route("/connect/sessions", web::delete().to(sessions::end_all))
        .route(
            "/connect/sessions/{id}",
            web::delete().to(sessions::end_one),
        )
        .configure(admin::configure)
        .configure(health::configure);
}

/// Serves until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn serve(state: AuthState) -> Result<(), String> {
    let listeners = server::bind("Auth:Urls", &state.settings.auth.urls)?;
    tracing::info!(
        issuer = %state.settings.issuer(),
        token.format = state.issuer.format().as_str(),
        "starting the Auth server"
    );
    crate::cleanup_job::spawn(state.pool.clone(), state.settings.clone());
    crate::checkpoint_job::spawn(state.pool.clone(), state.validator.is_local());
    let pool = web::Data::new(state.pool.clone());
    let state = web::Data::new(state);
    rate_limit::spawn_shrinking(state.clone());
    server::run(&listeners, move || {
        App::new()
            .app_data(state.clone())
            .app_data(pool.clone())
            .wrap(from_fn(logging::log_request))
            .configure(configure)
            .default_service(web::to(api_error::not_found))
    })
    .await?;
    tracing::info!("the Auth server stopped");
    Ok(())
}
