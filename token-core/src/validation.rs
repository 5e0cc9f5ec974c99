//! The one access-token check that the API and Auth's introspection share.
//!
//! A token with two dots is taken as a JWT and verified by signature,
//! `typ`, expiry, issuer and audience. Any other token is hashed and looked
//! up as a reference token, whose token row, session, client and user must
//! all still be live.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;

use crate::Settings;
use crate::db::schema::{clients, sessions, tokens, users};
use crate::db::{Backend, DbConnection, DbPool};
use crate::error::Error;
use crate::jwt::{self, VerifyError};
use crate::keys::KeyCache;
use crate::pg_lookup::PgLookup;
use crate::secret::sha256_hex;
use crate::time::now;
use crate::tokens::{TokenFormat, TokenKind, TokenRow};
use crate::validation_cache::{StoreTicket, ValidationCache};

/// Maximum token length worth a lookup. Issued handles are 43 characters and JWTs
/// well under 2 KiB; anything longer cannot be ours.
pub const MAX_TOKEN_LENGTH: usize = 8192;

/// A live token and the grant behind it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenGrant {
    pub format: TokenFormat,
    pub kind: &'static str,
    pub subject: String,
    pub client_id: String,
    pub scope: String,
    pub session_id: String,
    pub issued_at: i64,
    pub expires: i64,
}

/// The reason a token is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    Unknown,
    NotAnAccessToken,
    Expired,
    Revoked,
    SessionEnded,
    AccountDisabled,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    JwtNotAccepted,
}

impl Rejection {
    /// A fixed text, safe for an `error_description` and a header value.
    pub fn description(self) -> &'static str {
        match self {
            Rejection::Malformed => "the access token is malformed",
            Rejection::Unknown => "the access token is unknown",
            Rejection::NotAnAccessToken => "the token is not an access token",
            Rejection::Expired => "the access token expired",
            Rejection::Revoked => "the access token was revoked",
            Rejection::SessionEnded => "the session of the access token has ended",
            Rejection::AccountDisabled => "the account of the access token is disabled",
            Rejection::BadSignature => "the access token signature is invalid",
            Rejection::WrongIssuer => "the access token was issued by another issuer",
            Rejection::WrongAudience => "the access token is for another audience",
            Rejection::JwtNotAccepted => {
                "JWT access tokens are not accepted while reference tokens are in use"
            }
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The outcome of a failed validation.
#[derive(Debug)]
pub enum ValidationError {
    /// The token is not live: RFC 6750 `invalid_token`.
    Rejected(Rejection),
    /// The database failed, so the token cannot be judged.
    Store(Error),
}

impl From<Error> for ValidationError {
    fn from(error: Error) -> Self {
        ValidationError::Store(error)
    }
}

impl From<diesel::result::Error> for ValidationError {
    fn from(error: diesel::result::Error) -> Self {
        ValidationError::Store(error.into())
    }
}

/// Token kinds a caller accepts besides live reference access tokens.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Accept JWT access tokens (false while `UseReferenceTokens` is true).
    pub accept_jwt: bool,
    /// Also require the session of a JWT to be live. The API skips this so
    /// that JWT validation stays free of database calls; introspection
    /// does it because it can.
    pub check_jwt_session: bool,
    /// Accept refresh tokens too (introspection only).
    pub accept_refresh: bool,
}

/// Validates tokens against one database and key set.
pub struct Validator {
    pool: DbPool,
    keys: Arc<KeyCache>,
    issuer: String,
    audience: String,
    /// The pool contains SQLite connections.
    local: bool,
    cache: Option<Arc<ValidationCache>>,
    /// Async lookups, on PostgreSQL only.
    pg_lookup: Option<PgLookup>,
}

impl Validator {
    /// Builds a validator for the issuer and audience in `settings`.
    pub fn new(pool: DbPool, keys: Arc<KeyCache>, settings: &Settings) -> Self {
        let local = matches!(
            settings.connection_strings.default.backend(),
            Ok(Backend::Sqlite(_))
        );
        let database = &settings.database;
        let pg_lookup = (!local).then(|| {
            PgLookup::new(
                settings.connection_strings.default.clone(),
                Duration::from_secs(database.connection_timeout_seconds),
                Duration::from_secs(database.statement_timeout_seconds),
            )
        });
        Validator {
            pool,
            keys,
            issuer: settings.issuer().to_owned(),
            audience: settings.api.audience.clone(),
            local,
            cache: None,
            pg_lookup,
        }
    }

    /// Returns whether [`Validator::validate_reference_async`] can check
    /// `token`: a reference token, on PostgreSQL.
    pub fn checks_async(&self, token: &str) -> bool {
        self.pg_lookup.is_some() && classify(token) == Ok(TokenShape::Reference)
    }

    /// Checks a reference token on PostgreSQL without blocking the thread;
    /// see [`Validator::checks_async`].
    pub async fn validate_reference_async(
        &self,
        token: &str,
        policy: Policy,
    ) -> Result<TokenGrant, ValidationError> {
        let Some(lookup) = &self.pg_lookup else {
            return Err(ValidationError::Store(Error::Internal(
                "async lookups need PostgreSQL".into(),
            )));
        };
        classify(token).map_err(ValidationError::Rejected)?;
        let hash = sha256_hex(token);
        let store = match self.consult_cache(&hash, policy) {
            Ok(grant) => return Ok(grant),
            Err(store) => store,
        };
        let found = lookup.find(&hash).await?;
        finish_reference(found, hash, policy, store)
    }

    /// Returns the cached grant of a reference token, or else the cache and
    /// ticket to store the lookup's result with (none without a cache or
    /// for a policy that accepts refresh tokens, which are not cached).
    fn consult_cache(
        &self,
        hash: &str,
        policy: Policy,
    ) -> Result<TokenGrant, Option<(&ValidationCache, StoreTicket)>> {
        let Some(cache) = self.cache.as_deref().filter(|_| !policy.accept_refresh) else {
            return Err(None);
        };
        if let Some(grant) = cache.get(hash) {
            tracing::debug!("access token found in the validation cache");
            return Ok(grant);
        }
        Err(cache.ticket().map(|ticket| (cache, ticket)))
    }

    /// Consults `cache` before the database for reference access tokens.
    pub fn with_cache(mut self, cache: Arc<ValidationCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Whether lookups go to a local SQLite file rather than over the
    /// network.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// Checks a token and returns its grant. Blocking: it may query the
    /// database, so async callers run it on a blocking thread.
    pub fn validate(&self, token: &str, policy: Policy) -> Result<TokenGrant, ValidationError> {
        match classify(token).map_err(ValidationError::Rejected)? {
            TokenShape::Jwt { kid } => self.validate_jwt(token, &kid, policy),
            TokenShape::Reference => {
                let hash = sha256_hex(token);
                let store = match self.consult_cache(&hash, policy) {
                    Ok(grant) => return Ok(grant),
                    Err(store) => store,
                };
                let mut conn = self.pool.get().map_err(Error::from)?;
                let found = find_reference(&mut conn, &hash)?;
                finish_reference(found, hash, policy, store)
            }
        }
    }

    fn validate_jwt(
        &self,
        token: &str,
        kid: &str,
        policy: Policy,
    ) -> Result<TokenGrant, ValidationError> {
        if !policy.accept_jwt {
            return Err(ValidationError::Rejected(Rejection::JwtNotAccepted));
        }
        let claims = match jwt::verify(&self.keys, token, kid, &self.issuer, &self.audience) {
            Ok(claims) => claims,
            Err(VerifyError::Rejected(rejection)) => {
                return Err(ValidationError::Rejected(rejection));
            }
            Err(VerifyError::Store(error)) => return Err(ValidationError::Store(error)),
        };
        if policy.check_jwt_session {
            let mut conn = self.pool.get().map_err(Error::from)?;
            check_session(&mut conn, &claims.sid)?;
        }
        Ok(TokenGrant {
            format: TokenFormat::Jwt,
            kind: TokenKind::Access.as_str(),
            subject: claims.sub,
            client_id: claims.client_id,
            scope: claims.scope,
            session_id: claims.sid,
            issued_at: claims.iat,
            expires: claims.exp,
        })
    }
}

/// The kind of check a presented token needs, decided without the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenShape {
    /// A JWT access token signed with the key `kid`.
    Jwt { kid: String },
    /// Anything else of a plausible length: looked up by its hash.
    Reference,
}

/// Classifies a presented token, rejecting what cannot be valid before any
/// lookup. Never panics, whatever the input.
pub fn classify(token: &str) -> Result<TokenShape, Rejection> {
    if token.is_empty() || token.len() > MAX_TOKEN_LENGTH {
        return Err(Rejection::Malformed);
    }
    if looks_like_jwt(token) {
        let kid = jwt::access_token_key_id(token)?;
        return Ok(TokenShape::Jwt { kid });
    }
    Ok(TokenShape::Reference)
}

/// A JWS in compact serialization has exactly three dot-separated parts;
/// reference handles are base64url and never contain a dot.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

/// Looks up a reference token by the hash of its handle, with the state of
/// its session, client and user; [`judge`] decides whether it is live.
fn find_reference(conn: &mut DbConnection, hash: &str) -> Result<Option<LookedUp>, Error> {
    // The hash is the primary key, so there is at most one row and no LIMIT
    // is needed.
    let found = crate::on_backend!(conn, inner => tokens::table
        .inner_join(
            sessions::table
                .inner_join(clients::table)
                .left_join(users::table),
        )
        .filter(tokens::hash.eq(hash))
        .select((
            tokens::all_columns,
            sessions::ended_at,
            sessions::expires,
            clients::enabled,
            users::enabled.nullable(),
        ))
        .get_result::<(TokenRow, Option<i64>, i64, bool, Option<bool>)>(inner)
        .optional())?;
    Ok(found.map(
        |(row, ended_at, session_expires, client_enabled, user_enabled)| LookedUp {
            row,
            ended_at,
            session_expires,
            client_enabled,
            user_enabled,
        },
    ))
}

/// Judges a looked-up reference token and stores a live one with `store`.
fn finish_reference(
    found: Option<LookedUp>,
    hash: String,
    policy: Policy,
    store: Option<(&ValidationCache, StoreTicket)>,
) -> Result<TokenGrant, ValidationError> {
    let found = found.ok_or(ValidationError::Rejected(Rejection::Unknown))?;
    let (grant, valid_until) = judge(found, policy.accept_refresh)?;
    if let Some((cache, ticket)) = store {
        cache.store(ticket, hash, grant.clone(), valid_until);
    }
    Ok(grant)
}

/// A token row with the state of its session, client and user.
pub(crate) struct LookedUp {
    pub row: TokenRow,
    pub ended_at: Option<i64>,
    pub session_expires: i64,
    pub client_enabled: bool,
    pub user_enabled: Option<bool>,
}

/// Decides whether a looked-up token is live; returns its grant and the
/// Unix time until which the token and its session stay unexpired.
pub(crate) fn judge(
    found: LookedUp,
    accept_refresh: bool,
) -> Result<(TokenGrant, i64), ValidationError> {
    let LookedUp {
        row,
        ended_at,
        session_expires,
        client_enabled,
        user_enabled,
    } = found;
    let kind = if row.kind == TokenKind::Access.as_str() {
        TokenKind::Access
    } else if accept_refresh {
        TokenKind::Refresh
    } else {
        return Err(ValidationError::Rejected(Rejection::NotAnAccessToken));
    };
    let now = now();
    let rejection = if row.revoked_at.is_some() {
        Some(Rejection::Revoked)
    } else if row.expires <= now {
        Some(Rejection::Expired)
    } else if ended_at.is_some() || session_expires <= now {
        Some(Rejection::SessionEnded)
    } else if !client_enabled || user_enabled == Some(false) {
        Some(Rejection::AccountDisabled)
    } else {
        None
    };
    if let Some(rejection) = rejection {
        return Err(ValidationError::Rejected(rejection));
    }

    let valid_until = row.expires.min(session_expires);
    let grant = TokenGrant {
        format: TokenFormat::Reference,
        kind: kind.as_str(),
        subject: row.subject,
        client_id: row.client_id,
        scope: row.scopes,
        session_id: row.session_id,
        issued_at: row.created,
        expires: row.expires,
    };
    Ok((grant, valid_until))
}

fn check_session(conn: &mut DbConnection, session_id: &str) -> Result<(), ValidationError> {
    let now = now();
    let found = crate::on_backend!(conn, inner => sessions::table
        .inner_join(clients::table)
        .left_join(users::table)
        .filter(sessions::id.eq(session_id))
        .select((
            sessions::ended_at,
            sessions::expires,
            clients::enabled,
            users::enabled.nullable(),
        ))
        .first::<(Option<i64>, i64, bool, Option<bool>)>(inner)
        .optional())?;
    match found {
        None => Err(ValidationError::Rejected(Rejection::SessionEnded)),
        Some((Some(_), _, _, _)) => Err(ValidationError::Rejected(Rejection::SessionEnded)),
        Some((None, expires, _, _)) if expires <= now => {
            Err(ValidationError::Rejected(Rejection::SessionEnded))
        }
        Some((None, _, false, _)) | Some((None, _, _, Some(false))) => {
            Err(ValidationError::Rejected(Rejection::AccountDisabled))
        }
        Some(_) => Ok(()),
    }
}
