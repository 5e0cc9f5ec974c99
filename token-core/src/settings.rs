//! Settings shared by the Auth and API servers.
//!
//! Sources, later ones winning: built-in defaults, the JSON file, then
//! environment variables named after the key path with `__` between sections
//! (`Api__Urls`, `ConnectionStrings__Default`). Keys match case-insensitively
//! in both the file and the environment, as in ASP.NET configuration, and are
//! rewritten to their canonical PascalCase spelling before figment reads them.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Serialized};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::DatabaseUrl;

/// Default location of the settings file, relative to the working directory.
pub const DEFAULT_SETTINGS_PATH: &str = "appsettings/appsettings.json";

/// All settings of both services.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Settings {
    /// Issue opaque reference access tokens stored in the database instead of
    /// JWTs, and make the API accept only those.
    pub use_reference_tokens: bool,
    /// Database connection strings; only `Default` is used.
    pub connection_strings: ConnectionStrings,
    /// Connection pool settings shared by both services.
    pub database: DatabaseSettings,
    /// The authorization server.
    pub auth: AuthSettings,
    /// The protected API.
    pub api: ApiSettings,
    /// Token lifetimes.
    pub tokens: TokenSettings,
    /// Deleting old tokens and sessions.
    pub cleanup: CleanupSettings,
    /// Request rate limits of the token, introspection and revocation
    /// endpoints.
    pub rate_limiting: RateLimitingSettings,
}

/// Named database connection strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStrings {
    /// `sqlite://PATH` (relative to the working directory) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
    pub default: DatabaseUrl,
}

/// Connection pool settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatabaseSettings {
    /// Maximum number of pooled connections per process.
    pub max_connections: u32,
    /// Seconds to wait for a connection before responding 503.
    pub connection_timeout_seconds: u64,
    /// Seconds one statement may run or wait for a lock before it is
    /// cancelled and the request gets a 503 (PostgreSQL
    /// `statement_timeout`, SQLite busy timeout).
    pub statement_timeout_seconds: u64,
}

/// Settings of the authorization server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthSettings {
    /// Listen addresses, `;`-separated, such as `http://127.0.0.1:5001`.
    /// Port 0 picks a free port.
    pub urls: String,
    /// The `iss` of issued tokens and the base of the discovery document.
    pub issuer: String,
    /// How many password hashes (argon2) may run at once. Unset means one
    /// less than the number of cores, at least one, so that a burst of
    /// logins always leaves a core for token validation.
    #[serde(default)]
    pub password_hash_concurrency: Option<u32>,
}

/// Settings of the protected API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiSettings {
    /// Listen addresses, `;`-separated, such as `http://127.0.0.1:5000`.
    pub urls: String,
    /// The `aud` that access tokens carry and the API requires.
    pub audience: String,
    /// Seconds between checks that this instance's `UseReferenceTokens`
    /// matches the format the Auth servers recorded.
    pub mode_check_interval_seconds: u64,
}

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenSettings {
    /// Lifetime of an access token of either format.
    pub access_token_lifetime_seconds: u64,
    /// Lifetime of a refresh token; each refresh also extends its session by
    /// this much.
    pub refresh_token_lifetime_seconds: u64,
    /// Keep validated reference tokens in each API instance's memory,
    /// dropped on PostgreSQL notices (PostgreSQL only).
    pub validation_cache: bool,
    /// Maximum number of tokens one API instance caches.
    pub validation_cache_capacity: u32,
    /// Maximum time a token stays cached, even if no notice drops it.
    pub validation_cache_seconds: u64,
}

/// Settings of the cleanup job that each Auth instance runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CleanupSettings {
    /// Run the job in the background of every Auth instance.
    pub enabled: bool,
    /// Seconds between two runs.
    pub interval_seconds: u64,
    /// Seconds that expired or revoked tokens and ended sessions are kept,
    /// so that audits and reuse detection can still see them.
    pub retention_seconds: u64,
    /// Rows deleted per statement; smaller batches hold locks for less time.
    pub batch_size: u32,
}

/// Rate limits per client and per source address, kept in memory by each
/// Auth instance (so N instances allow N times the rate in total).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RateLimitingSettings {
    pub enabled: bool,
    /// Sustained requests per second of one authenticated client.
    pub per_client_per_second: u32,
    /// Requests one client may send at once before the rate applies.
    pub per_client_burst: u32,
    /// Sustained requests per second from one source address.
    pub per_address_per_second: u32,
    /// Requests one address may send at once before the rate applies.
    pub per_address_burst: u32,
    /// Take the source address from the last `X-Forwarded-For` entry. Set it
    /// only behind a reverse proxy that sets that header, such as the nginx
    /// of the Docker Compose file, because otherwise clients could pick their
    /// own address.
    pub trust_forwarded_for: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            use_reference_tokens: false,
            connection_strings: ConnectionStrings {
                default: DatabaseUrl::new("sqlite://data/tokens.db"),
            },
            database: DatabaseSettings {
                max_connections: 8,
                connection_timeout_seconds: 2,
                statement_timeout_seconds: 5,
            },
            auth: AuthSettings {
                urls: "http://127.0.0.1:5001".into(),
                issuer: "http://127.0.0.1:5001".into(),
                password_hash_concurrency: None,
            },
            api: ApiSettings {
                urls: "http://127.0.0.1:5000".into(),
                audience: "api".into(),
                mode_check_interval_seconds: 60,
            },
            tokens: TokenSettings {
                access_token_lifetime_seconds: 3600,
                refresh_token_lifetime_seconds: 2_592_000,
                validation_cache: false,
                validation_cache_capacity: 100_000,
                validation_cache_seconds: 60,
            },
            cleanup: CleanupSettings {
                enabled: true,
                interval_seconds: 300,
                retention_seconds: 86_400,
                batch_size: 1000,
            },
            rate_limiting: RateLimitingSettings {
                enabled: true,
                per_client_per_second: 200,
                per_client_burst: 400,
                per_address_per_second: 400,
                per_address_burst: 800,
                trust_forwarded_for: false,
            },
        }
    }
}

/// A setting that could not be loaded; the message names the key and value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

/// Loaded settings plus the keys that matched nothing, for the caller to log.
#[derive(Debug)]
pub struct LoadedSettings {
    pub settings: Settings,
    /// Unknown keys as `Section:Key` with where they came from.
    pub unknown_keys: Vec<String>,
}

impl Settings {
    /// Loads defaults, then `path`, then the environment.
    ///
    /// A missing file is an error only when `required` is set, so that the
    /// services also start from defaults and environment alone.
    pub fn load(path: &Path, required: bool) -> Result<LoadedSettings, SettingsError> {
        let schema = serde_json::to_value(Settings::default())
            .map_err(|error| SettingsError(format!("cannot describe the defaults: {error}")))?;
        let mut unknown_keys = Vec::new();

        let mut figment = Figment::from(Serialized::defaults(Settings::default()));

        match std::fs::read_to_string(path) {
            Ok(text) => {
                let (value, unknown) = parse_json(&text, path, &schema)?;
                unknown_keys.extend(unknown);
                figment = figment.merge(JsonFile {
                    path: path.to_path_buf(),
                    value,
                });
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(error) => {
                return Err(SettingsError(format!(
                    "cannot read settings file {}: {error}",
                    path.display()
                )));
            }
        }

        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if let EnvKey::Unknown(key) = classify_env_key(&name, &schema) {
                unknown_keys.push(format!("{key} (environment variable {name})"));
            }
        }
        let env_schema = schema.clone();
        // `lowercase(false)` must come after `filter_map`, which resets it.
        let env = Env::raw()
            .filter_map(
                move |name| match classify_env_key(name.as_str(), &env_schema) {
                    EnvKey::Known(path) => Some(path.into()),
                    EnvKey::Unknown(_) | EnvKey::Unrelated => None,
                },
            )
            .lowercase(false);
        figment = figment.merge(env);

        let settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.validate()?;
        Ok(LoadedSettings {
            settings,
            unknown_keys,
        })
    }

    /// Loads defaults and a JSON document, without the environment: the
    /// file half of [`Settings::load`]. Never panics, whatever the input.
    pub fn from_json_str(text: &str) -> Result<LoadedSettings, SettingsError> {
        let schema = serde_json::to_value(Settings::default())
            .map_err(|error| SettingsError(format!("cannot describe the defaults: {error}")))?;
        let path = Path::new("(string)");
        let (value, unknown_keys) = parse_json(text, path, &schema)?;
        let figment = Figment::from(Serialized::defaults(Settings::default())).merge(JsonFile {
            path: path.to_path_buf(),
            value,
        });
        let settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.validate()?;
        Ok(LoadedSettings {
            settings,
            unknown_keys,
        })
    }

    /// Checks values that deserialize but cannot work.
    pub fn validate(&self) -> Result<(), SettingsError> {
        DatabaseUrl::parse_backend(self.connection_strings.default.expose()).map_err(|reason| {
            SettingsError(format!(
                "invalid setting ConnectionStrings:Default = \"{}\": {reason}",
                self.connection_strings.default
            ))
        })?;
        listen_addresses("Auth:Urls", &self.auth.urls)?;
        listen_addresses("Api:Urls", &self.api.urls)?;
        check_url("Auth:Issuer", &self.auth.issuer)?;
        if self.api.audience.trim().is_empty() {
            return Err(SettingsError(
                "invalid setting Api:Audience = \"\": must not be empty".into(),
            ));
        }
        check_positive(
            "Tokens:AccessTokenLifetimeSeconds",
            self.tokens.access_token_lifetime_seconds,
        )?;
        check_positive(
            "Tokens:RefreshTokenLifetimeSeconds",
            self.tokens.refresh_token_lifetime_seconds,
        )?;
        check_positive(
            "Database:MaxConnections",
            u64::from(self.database.max_connections),
        )?;
        check_positive(
            "Database:ConnectionTimeoutSeconds",
            self.database.connection_timeout_seconds,
        )?;
        check_positive(
            "Database:StatementTimeoutSeconds",
            self.database.statement_timeout_seconds,
        )?;
        check_positive("Cleanup:IntervalSeconds", self.cleanup.interval_seconds)?;
        let limits = &self.rate_limiting;
        for (key, value) in [
            (
                "RateLimiting:PerClientPerSecond",
                limits.per_client_per_second,
            ),
            ("RateLimiting:PerClientBurst", limits.per_client_burst),
            (
                "RateLimiting:PerAddressPerSecond",
                limits.per_address_per_second,
            ),
            ("RateLimiting:PerAddressBurst", limits.per_address_burst),
        ] {
            check_positive(key, u64::from(value))?;
        }
        check_positive(
            "Api:ModeCheckIntervalSeconds",
            self.api.mode_check_interval_seconds,
        )?;
        check_positive("Cleanup:BatchSize", u64::from(self.cleanup.batch_size))?;
        check_positive(
            "Tokens:ValidationCacheCapacity",
            u64::from(self.tokens.validation_cache_capacity),
        )?;
        check_positive(
            "Tokens:ValidationCacheSeconds",
            self.tokens.validation_cache_seconds,
        )?;
        if let Some(concurrency) = self.auth.password_hash_concurrency {
            check_positive("Auth:PasswordHashConcurrency", u64::from(concurrency))?;
        }
        Ok(())
    }

    /// Returns the number of password hashes that may run at once.
    pub fn password_hash_concurrency(&self) -> usize {
        match self.auth.password_hash_concurrency {
            Some(concurrency) => concurrency as usize,
            None => std::thread::available_parallelism()
                .map_or(1, usize::from)
                .saturating_sub(1)
                .max(1),
        }
    }

    /// The issuer without a trailing slash, as it appears in `iss`.
    pub fn issuer(&self) -> &str {
        self.auth.issuer.trim_end_matches('/')
    }
}

/// A listen address taken from an `Urls` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Parses a `;`-separated `Urls` value into host and port pairs.
pub fn listen_addresses(key: &str, urls: &str) -> Result<Vec<ListenAddress>, SettingsError> {
    let mut addresses = Vec::new();
    for part in urls
        .split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let url = url::Url::parse(part).map_err(|error| {
            SettingsError(format!("invalid setting {key} = \"{part}\": {error}"))
        })?;
        if url.scheme() != "http" {
            return Err(SettingsError(format!(
                "invalid setting {key} = \"{part}\": only http:// is supported; \
                 terminate TLS at a reverse proxy"
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| SettingsError(format!("invalid setting {key} = \"{part}\": no host")))?;
        // Url keeps IPv6 brackets in host_str, which socket parsing rejects.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        addresses.push(ListenAddress { host, port });
    }
    if addresses.is_empty() {
        return Err(SettingsError(format!(
            "invalid setting {key} = \"{urls}\": expected at least one http:// URL"
        )));
    }
    Ok(addresses)
}

fn check_url(key: &str, value: &str) -> Result<(), SettingsError> {
    let url = url::Url::parse(value)
        .map_err(|error| SettingsError(format!("invalid setting {key} = \"{value}\": {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SettingsError(format!(
            "invalid setting {key} = \"{value}\": expected an http:// or https:// URL"
        )));
    }
    Ok(())
}

fn check_positive(key: &str, value: u64) -> Result<(), SettingsError> {
    if value == 0 {
        return Err(SettingsError(format!(
            "invalid setting {key} = 0: must be at least 1"
        )));
    }
    Ok(())
}

/// Parses a settings document and canonicalizes its keys; returns the
/// value and its unknown keys, each naming `path`.
fn parse_json(
    text: &str,
    path: &Path,
    schema: &Value,
) -> Result<(Value, Vec<String>), SettingsError> {
    let raw: Value = serde_json::from_str(text)
        .map_err(|error| SettingsError(format!("invalid JSON in {}: {error}", path.display())))?;
    if !raw.is_object() {
        return Err(SettingsError(format!(
            "{} must contain a JSON object at the top level",
            path.display()
        )));
    }
    let mut unknown = Vec::new();
    let value = canonicalize(raw, schema, "", &mut unknown);
    let unknown = unknown
        .into_iter()
        .map(|key| format!("{key} (in {})", path.display()))
        .collect();
    Ok((value, unknown))
}

/// Rewrites the keys of `value` to the spelling used in `schema`, matching
/// case-insensitively, and collects the paths of keys the schema lacks.
fn canonicalize(value: Value, schema: &Value, prefix: &str, unknown: &mut Vec<String>) -> Value {
    let (Value::Object(entries), Value::Object(known)) = (value.clone(), schema) else {
        return value;
    };
    let mut result = serde_json::Map::new();
    for (key, child) in entries {
        let path = join_path(prefix, &key);
        match known
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&key))
        {
            Some((name, child_schema)) => {
                let path = join_path(prefix, name);
                result.insert(
                    name.clone(),
                    canonicalize(child, child_schema, &path, unknown),
                );
            }
            None => unknown.push(path),
        }
    }
    Value::Object(result)
}

fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}:{key}")
    }
}

enum EnvKey {
    /// A settings key, as a figment path such as `Api.Urls`.
    Known(String),
    /// Starts with a settings section but names no key in it.
    Unknown(String),
    /// Any other environment variable.
    Unrelated,
}

/// Maps an environment variable name such as `API__URLS` to `Api.Urls`.
///
/// Only names whose first segment is a top-level setting count, because the
/// environment also contains `PATH`, `HOME` and the like.
fn classify_env_key(name: &str, schema: &Value) -> EnvKey {
    let mut node = schema;
    let mut canonical = Vec::new();
    for (index, segment) in name.split("__").enumerate() {
        let Value::Object(known) = node else {
            return EnvKey::Unknown(name.replace("__", ":"));
        };
        match known
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(segment))
        {
            Some((key, child)) => {
                canonical.push(key.clone());
                node = child;
            }
            None if index == 0 && resembles_known_key(segment, known) => {
                return EnvKey::Unknown(name.replace("__", ":"));
            }
            None if index == 0 => return EnvKey::Unrelated,
            None => return EnvKey::Unknown(name.replace("__", ":")),
        }
    }
    if node.is_object() {
        // A whole section cannot be set from one variable.
        return EnvKey::Unknown(name.replace("__", ":"));
    }
    EnvKey::Known(canonical.join("."))
}

/// Whether an unmatched top-level name looks like a misspelt setting, such
/// as `Databse__MaxConnections` or `UseReferenceToken`. Names shorter than
/// six letters must be within one edit, so that `PATH` does not match `Auth`.
fn resembles_known_key(segment: &str, known: &serde_json::Map<String, Value>) -> bool {
    let segment = segment.to_ascii_lowercase();
    let max_distance = if segment.len() < 6 { 1 } else { 2 };
    known
        .keys()
        .any(|key| strsim::levenshtein(&segment, &key.to_ascii_lowercase()) <= max_distance)
}

fn describe_figment_error(error: figment::Error) -> SettingsError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|error| {
            let key = error.path.join(":");
            let source = error
                .metadata
                .as_ref()
                .map(|metadata| match &metadata.source {
                    Some(source) => format!(" (from {} {source})", metadata.name),
                    None => format!(" (from {})", metadata.name),
                })
                .unwrap_or_default();
            format!("invalid setting {key}: {}{source}", error.kind)
        })
        .collect();
    SettingsError(messages.join("; "))
}

/// The settings file after key canonicalization, named in error messages.
struct JsonFile {
    path: PathBuf,
    value: Value,
}

impl Provider for JsonFile {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("settings file {}", self.path.display()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.value).data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        serde_json::to_value(Settings::default()).unwrap()
    }

    #[test]
    fn password_hash_concurrency_is_optional() {
        let loaded = Settings::from_json_str("{}").unwrap();
        assert!(loaded.settings.password_hash_concurrency() >= 1);

        let text = r#"{"auth": {"passwordhashconcurrency": 3}}"#;
        let loaded = Settings::from_json_str(text).unwrap();
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
        assert_eq!(loaded.settings.password_hash_concurrency(), 3);

        let text = r#"{"Auth": {"PasswordHashConcurrency": 0}}"#;
        let error = Settings::from_json_str(text).unwrap_err().to_string();
        assert!(error.contains("Auth:PasswordHashConcurrency"), "{error}");
    }

    #[test]
    fn canonicalize_matches_any_case() {
        let mut unknown = Vec::new();
        let value = serde_json::json!({"usereferencetokens": true, "API": {"urls": "x"}});
        let value = canonicalize(value, &schema(), "", &mut unknown);
        assert_eq!(value["UseReferenceTokens"], true);
        assert_eq!(value["Api"]["Urls"], "x");
        assert!(unknown.is_empty());
    }

    #[test]
    fn canonicalize_reports_misspelt_key() {
        let mut unknown = Vec::new();
        let value = serde_json::json!({"UseReferenceToken": true, "Api": {"Url": "x"}});
        canonicalize(value, &schema(), "", &mut unknown);
        unknown.sort();
        assert_eq!(unknown, vec!["Api:Url", "UseReferenceToken"]);
    }

    #[test]
    fn env_key_classification() {
        let schema = schema();
        assert!(matches!(
            classify_env_key("API__URLS", &schema),
            EnvKey::Known(path) if path == "Api.Urls"
        ));
        assert!(matches!(
            classify_env_key("usereferencetokens", &schema),
            EnvKey::Known(path) if path == "UseReferenceTokens"
        ));
        assert!(matches!(
            classify_env_key("Api__Urlz", &schema),
            EnvKey::Unknown(key) if key == "Api:Urlz"
        ));
        assert!(matches!(
            classify_env_key("PATH", &schema),
            EnvKey::Unrelated
        ));
        assert!(matches!(
            classify_env_key("HOME", &schema),
            EnvKey::Unrelated
        ));
        assert!(matches!(
            classify_env_key("Databse__MaxConnections", &schema),
            EnvKey::Unknown(key) if key == "Databse:MaxConnections"
        ));
        assert!(matches!(
            classify_env_key("UseReferenceToken", &schema),
            EnvKey::Unknown(_)
        ));
    }

    #[test]
    fn listen_addresses_parse_list() {
        let addresses =
            listen_addresses("Api:Urls", "http://127.0.0.1:5000; http://[::1]:0").unwrap();
        assert_eq!(addresses[0].to_string(), "127.0.0.1:5000");
        assert_eq!(addresses[1].host, "::1");
        assert_eq!(addresses[1].port, 0);
        assert!(listen_addresses("Api:Urls", "https://x:1").is_err());
        assert!(listen_addresses("Api:Urls", "").is_err());
    }
}
