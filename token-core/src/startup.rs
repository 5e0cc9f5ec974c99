//! Start-up steps both services share: settings, then the database.

use std::path::Path;

use crate::db::{self, DbPool};
use crate::error::Error;
use crate::settings::{DEFAULT_SETTINGS_PATH, Settings, SettingsError};

/// Loads the settings from `path`, or from the default file when `path` is
/// `None`, and logs every unknown key as a warning so that a misspelt key
/// does not go unnoticed.
pub fn load_settings(path: Option<&Path>) -> Result<Settings, SettingsError> {
    let (path, required) = match path {
        Some(path) => (path, true),
        None => (Path::new(DEFAULT_SETTINGS_PATH), false),
    };
    if !required && !path.exists() {
        tracing::warn!(
            settings.path = %path.display(),
            "settings file not found; using defaults and environment variables"
        );
    }
    let loaded = Settings::load(path, required)?;
    for key in &loaded.unknown_keys {
        tracing::warn!(setting = %key, "unknown setting ignored; check its spelling");
    }
    Ok(loaded.settings)
}

/// Connects to the database and applies pending migrations.
pub fn open_database(settings: &Settings) -> Result<DbPool, Error> {
    let pool = db::connect(settings)?;
    let mut conn = pool.get().map_err(|error| {
        Error::Unavailable(format!(
            "cannot connect to database {}: {error}",
            settings.connection_strings.default
        ))
    })?;
    let applied = db::run_migrations(&mut conn)?;
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    tracing::info!(
        database = %settings.connection_strings.default,
        "database ready"
    );
    Ok(pool)
}
