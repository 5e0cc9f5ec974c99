//! Builds and runs the HTTP server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, web};
use token_core::Settings;
use token_core::db::{Backend, DbPool};
use token_core::keys::{self, KeyCache};
use token_core::validation::{Policy, Validator};
use token_core::validation_cache::{self, ValidationCache};
use web_common::api_error;
use web_common::{health, logging, server};

use crate::state::ApiState;
use crate::{auth, me, tickets};

/// Builds the shared state. The API only reads signing keys; the Auth
/// server creates them, and the API reloads them when it meets a new one.
pub fn build_state(settings: Settings, pool: DbPool) -> Result<ApiState, token_core::Error> {
    let mut conn = pool.get()?;
    let key_set = keys::load(&mut conn)?;
    drop(conn);
    let keys = Arc::new(KeyCache::new(pool.clone(), key_set));
    let mut validator = Validator::new(pool.clone(), keys, &settings);
    let cache = validation_cache(&settings);
    if let Some(cache) = &cache {
        validator = validator.with_cache(cache.clone());
    }
    let policy = Policy {
        accept_jwt: !settings.use_reference_tokens,
        check_jwt_session: false,
        accept_refresh: false,
    };
    Ok(ApiState {
        settings,
        pool,
        validator,
        policy,
        cache,
    })
}

/// Builds the validation cache if the settings request one and the
/// database can send the notices it depends on.
fn validation_cache(settings: &Settings) -> Option<Arc<ValidationCache>> {
    let tokens = &settings.tokens;
    if !tokens.validation_cache {
        return None;
    }
    if !matches!(
        settings.connection_strings.default.backend(),
        Ok(Backend::Postgres)
    ) {
        tracing::warn!(
            "Tokens:ValidationCache needs PostgreSQL notices; ignored on SQLite, \
             where every call is a local lookup"
        );
        return None;
    }
    Some(Arc::new(ValidationCache::new(
        tokens.validation_cache_capacity as usize,
        Duration::from_secs(tokens.validation_cache_seconds),
    )))
}

/// Registers every route of the API.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .configure(api_error::configure_extractors)
        .service(
            web::scope("/api")
                .wrap(from_fn(auth::require_token))
                .route("/me", web::get().to(me::me))
                .route("/tickets", web::get().to(tickets::list))
                .route("/tickets", web::post().to(tickets::create))
                .route("/tickets/{id}", web::get().to(tickets::get))
                .route("/tickets/{id}", web::patch().to(tickets::update))
                .route("/tickets/{id}", web::delete().to(tickets::delete)),
        )
        .configure(health::configure);
    #[cfg(feature = "bench-routes")]
    config.configure(crate::bench_routes::configure);
}

/// Serves until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn serve(state: ApiState) -> Result<(), String> {
    let listeners = server::bind("Api:Urls", &state.settings.api.urls)?;
    tracing::info!(
        audience = %state.settings.api.audience,
        accepts_jwt = state.policy.accept_jwt,
        "starting the API server"
    );
    if let Some(cache) = &state.cache {
        validation_cache::spawn_listener(
            cache.clone(),
            state.settings.connection_strings.default.clone(),
        );
    }
    crate::mode_check::spawn(
        state.pool.clone(),
        state.settings.use_reference_tokens,
        Duration::from_secs(state.settings.api.mode_check_interval_seconds),
    );
    let pool = web::Data::new(state.pool.clone());
    let state = web::Data::new(state);
    server::run(&listeners, move || {
        App::new()
            .app_data(state.clone())
            .app_data(pool.clone())
            .wrap(from_fn(logging::log_request))
            .configure(configure)
            .default_service(web::to(api_error::not_found))
    })
    .await?;
    tracing::info!("the API server stopped");
    Ok(())
}
