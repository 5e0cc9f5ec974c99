//! Issuing, rotating and revoking tokens.
//!
//! Every grant opens a session; every token row records its session and its
//! family (the grant it descends from). Reference access tokens and all
//! refresh tokens are stored as the SHA-256 of their handle; JWT access
//! tokens are not stored at all.

use std::sync::Arc;

use diesel::prelude::*;

use crate::db::schema::{clients, sessions, tokens, users};
use crate::db::{DbConnection, write_transaction};
use crate::error::Error;
use crate::events::{self, Invalidation};
use crate::jwt::{self, AccessClaims};
use crate::keys::KeySet;
use crate::scope;
use crate::secret::{Secret, generate_handle, sha256_hex};
use crate::sessions::end_sessions;
use crate::settings::Settings;
use crate::time::now;

/// The `kind` column of a token row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The format of an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// An opaque handle looked up in the database.
    Reference,
    /// A signed, self-contained RFC 9068 JWT.
    Jwt,
}

impl TokenFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Reference => "reference",
            TokenFormat::Jwt => "jwt",
        }
    }
}

/// A stored token row.
#[derive(Debug, Clone, Queryable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    pub hash: String,
    pub kind: String,
    pub session_id: String,
    pub client_id: String,
    pub subject: String,
    pub scopes: String,
    pub created: i64,
    pub expires: i64,
    pub revoked_at: Option<i64>,
    pub family_id: String,
}

/// Settings and signing keys that the issuing functions use.
#[derive(Clone)]
pub struct Issuer {
    pub use_reference_tokens: bool,
    pub issuer: String,
    pub audience: String,
    pub access_token_lifetime: i64,
    pub refresh_token_lifetime: i64,
    pub keys: Arc<KeySet>,
}

impl Issuer {
    pub fn new(settings: &Settings, keys: Arc<KeySet>) -> Self {
        Issuer {
            use_reference_tokens: settings.use_reference_tokens,
            issuer: settings.issuer().to_owned(),
            audience: settings.api.audience.clone(),
            access_token_lifetime: i64::try_from(settings.tokens.access_token_lifetime_seconds)
                .unwrap_or(i64::MAX),
            refresh_token_lifetime: i64::try_from(settings.tokens.refresh_token_lifetime_seconds)
                .unwrap_or(i64::MAX),
            keys,
        }
    }

    pub fn format(&self) -> TokenFormat {
        if self.use_reference_tokens {
            TokenFormat::Reference
        } else {
            TokenFormat::Jwt
        }
    }
}

/// Tokens to return from the token endpoint.
#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: Secret,
    pub format: TokenFormat,
    pub expires_in: i64,
    pub refresh_token: Option<Secret>,
    pub scope: String,
    pub session_id: String,
}

/// A successful authentication to start a session with.
#[derive(Debug)]
pub struct NewGrant<'a> {
    pub client_id: &'a str,
    /// The user id, or the client id for `client_credentials`.
    pub subject: &'a str,
    pub user_id: Option<&'a str>,
    pub scope: &'a str,
    pub with_refresh_token: bool,
}

/// Opens a session and issues its first tokens.
pub fn issue_for_new_session(
    conn: &mut DbConnection,
    issuer: &Issuer,
    grant: &NewGrant<'_>,
) -> Result<IssuedTokens, Error> {
    let session_id = uuid::Uuid::new_v4().to_string();
    let family_id = uuid::Uuid::new_v4().to_string();
    write_transaction(conn, |conn| {
        let now = now();
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(&session_id),
                sessions::subject.eq(grant.subject),
                sessions::client_id.eq(grant.client_id),
                sessions::user_id.eq(grant.user_id),
                sessions::created.eq(now),
                sessions::last_seen.eq(now),
                sessions::expires.eq(now.saturating_add(session_lifetime(issuer, grant))),
            ))
            .execute(conn)?;
        let minted = Minted {
            session_id: &session_id,
            family_id: &family_id,
            client_id: grant.client_id,
            subject: grant.subject,
        };
        let access_token = minted.access_token(conn, issuer, grant.scope, now)?;
        let refresh_token = if grant.with_refresh_token {
            Some(minted.refresh_token(conn, issuer, grant.scope, now)?)
        } else {
            None
        };
        Ok(IssuedTokens {
            access_token,
            format: issuer.format(),
            expires_in: issuer.access_token_lifetime,
            refresh_token,
            scope: grant.scope.to_owned(),
            session_id: session_id.clone(),
        })
    })
}

/// A `client_credentials` session has no refresh token, so it lives exactly
/// as long as its access token.
fn session_lifetime(issuer: &Issuer, grant: &NewGrant<'_>) -> i64 {
    if grant.with_refresh_token {
        issuer.refresh_token_lifetime
    } else {
        issuer.access_token_lifetime
    }
}

/// The identity shared by the tokens minted in one step.
struct Minted<'a> {
    session_id: &'a str,
    family_id: &'a str,
    client_id: &'a str,
    subject: &'a str,
}

impl Minted<'_> {
    fn access_token(
        &self,
        conn: &mut DbConnection,
        issuer: &Issuer,
        scope: &str,
        now: i64,
    ) -> Result<Secret, Error> {
        let expires = now.saturating_add(issuer.access_token_lifetime);
        if issuer.use_reference_tokens {
            return self.store_handle(conn, TokenKind::Access, scope, now, expires);
        }
        let key = issuer
            .keys
            .current()
            .ok_or_else(|| Error::Internal("no JWT signing key is loaded".into()))?;
        let claims = AccessClaims {
            iss: issuer.issuer.clone(),
            sub: self.subject.to_owned(),
            aud: issuer.audience.clone(),
            exp: expires,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: self.client_id.to_owned(),
            scope: scope.to_owned(),
            sid: self.session_id.to_owned(),
        };
        Ok(Secret::new(jwt::sign(key, &claims)?))
    }

    fn refresh_token(
        &self,
        conn: &mut DbConnection,
        issuer: &Issuer,
        scope: &str,
        now: i64,
    ) -> Result<Secret, Error> {
        let expires = now.saturating_add(issuer.refresh_token_lifetime);
        self.store_handle(conn, TokenKind::Refresh, scope, now, expires)
    }

    fn store_handle(
        &self,
        conn: &mut DbConnection,
        kind: TokenKind,
        scope: &str,
        now: i64,
        expires: i64,
    ) -> Result<Secret, Error> {
        let handle = generate_handle()?;
        diesel::insert_into(tokens::table)
            .values((
                tokens::hash.eq(sha256_hex(handle.expose())),
                tokens::kind.eq(kind.as_str()),
                tokens::session_id.eq(self.session_id),
                tokens::client_id.eq(self.client_id),
                tokens::subject.eq(self.subject),
                tokens::scopes.eq(scope),
                tokens::created.eq(now),
                tokens::expires.eq(expires),
                tokens::family_id.eq(self.family_id),
            ))
            .execute(conn)?;
        Ok(handle)
    }
}

/// A refresh failure.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// RFC 6749 `invalid_grant`; the text is safe to show the client.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// RFC 6749 `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<diesel::result::Error> for RefreshError {
    fn from(error: diesel::result::Error) -> Self {
        RefreshError::Store(error.into())
    }
}

const REFRESH_INVALID: &str = "the refresh token is invalid, expired or revoked";

/// The end state of a refresh transaction. Reuse must commit its
/// revocations, so it is an `Ok` value that becomes an error afterwards.
enum RefreshOutcome {
    Issued(IssuedTokens),
    Reused { session_id: String },
}

/// Rotates a refresh token: the presented one is revoked and a new pair is
/// issued in the same session and family.
///
/// The presented token is consumed by one conditional `UPDATE`, so of two
/// concurrent requests with the same token only one can succeed. Presenting
/// a token that was already rotated revokes its whole family and ends the
/// session (RFC 9700 §4.14.2), because it means the token leaked.
pub fn refresh(
    conn: &mut DbConnection,
    issuer: &Issuer,
    client_id: &str,
    handle: &Secret,
    requested_scope: Option<&[String]>,
) -> Result<IssuedTokens, RefreshError> {
    let hash = sha256_hex(handle.expose());
    let outcome = write_transaction(conn, |conn| {
        let now = now();
        let consumed = diesel::update(
            tokens::table
                .filter(tokens::hash.eq(&hash))
                .filter(tokens::kind.eq(TokenKind::Refresh.as_str()))
                .filter(tokens::client_id.eq(client_id))
                .filter(tokens::revoked_at.is_null())
                .filter(tokens::expires.gt(now)),
        )
        .set(tokens::revoked_at.eq(now))
        .execute(conn)?;

        let row = tokens::table
            .find(&hash)
            .first::<TokenRow>(conn)
            .optional()?;
        let Some(row) = row else {
            return Err(RefreshError::InvalidGrant(REFRESH_INVALID));
        };
        if consumed == 0 {
            let reused = row.kind == TokenKind::Refresh.as_str()
                && row.client_id == client_id
                && row.revoked_at.is_some();
            if reused {
                revoke_family(conn, &row.family_id, now)?;
                end_sessions(conn, std::slice::from_ref(&row.session_id), now)?;
                return Ok(RefreshOutcome::Reused {
                    session_id: row.session_id,
                });
            }
            return Err(RefreshError::InvalidGrant(REFRESH_INVALID));
        }

        let (ended_at, session_expires, client_enabled, user_enabled) = sessions::table
            .inner_join(clients::table)
            .left_join(users::table)
            .filter(sessions::id.eq(&row.session_id))
            .select((
                sessions::ended_at,
                sessions::expires,
                clients::enabled,
                users::enabled.nullable(),
            ))
            .first::<(Option<i64>, i64, bool, Option<bool>)>(conn)?;
        if ended_at.is_some() || session_expires <= now {
            return Err(RefreshError::InvalidGrant("the session has ended"));
        }
        if !client_enabled || user_enabled == Some(false) {
            return Err(RefreshError::InvalidGrant("the account is disabled"));
        }

        // RFC 6749 §6: the new access token may narrow the scope, but the new
        // refresh token keeps the original one.
        let granted = scope::split(&row.scopes);
        let access_scope = match requested_scope {
            Some(requested) => {
                if let Some(extra) = requested.iter().find(|name| !granted.contains(name)) {
                    return Err(RefreshError::InvalidScope(format!(
                        "scope \"{extra}\" was not granted to this refresh token"
                    )));
                }
                requested.join(" ")
            }
            None => row.scopes.clone(),
        };

        let minted = Minted {
            session_id: &row.session_id,
            family_id: &row.family_id,
            client_id,
            subject: &row.subject,
        };
        let access_token = minted.access_token(conn, issuer, &access_scope, now)?;
        let refresh_token = minted.refresh_token(conn, issuer, &row.scopes, now)?;
        diesel::update(sessions::table.find(&row.session_id))
            .set((
                sessions::last_seen.eq(now),
                sessions::expires.eq(now.saturating_add(issuer.refresh_token_lifetime)),
            ))
            .execute(conn)?;
        Ok(RefreshOutcome::Issued(IssuedTokens {
            access_token,
            format: issuer.format(),
            expires_in: issuer.access_token_lifetime,
            refresh_token: Some(refresh_token),
            scope: access_scope,
            session_id: row.session_id,
        }))
    })?;

    match outcome {
        RefreshOutcome::Issued(tokens) => Ok(tokens),
        RefreshOutcome::Reused { session_id } => {
            tracing::warn!(
                session.id = %session_id,
                client.id = %client_id,
                "a rotated refresh token was used again; ended its session"
            );
            Err(RefreshError::InvalidGrant(REFRESH_INVALID))
        }
    }
}

/// The result of a revocation request.
#[derive(Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The token (and, for a refresh token, its family) is revoked now.
    Revoked,
    /// No stored token has this handle.
    NotFound,
    /// The token belongs to another client and was left alone.
    OtherClient,
}

/// Revokes a stored token on behalf of the client it was issued to.
///
/// Revoking a refresh token revokes every token of its family, including
/// the access tokens issued with it (RFC 7009 §2.1).
pub fn revoke(
    conn: &mut DbConnection,
    client_id: &str,
    handle: &Secret,
) -> Result<RevokeOutcome, Error> {
    let hash = sha256_hex(handle.expose());
    write_transaction(conn, |conn| {
        let row = tokens::table
            .find(&hash)
            .first::<TokenRow>(conn)
            .optional()?;
        let Some(row) = row else {
            return Ok(RevokeOutcome::NotFound);
        };
        if row.client_id != client_id {
            return Ok(RevokeOutcome::OtherClient);
        }
        let now = now();
        if row.kind == TokenKind::Refresh.as_str() {
            revoke_family(conn, &row.family_id, now)?;
            // The family's access tokens are all in this session.
            events::notify(conn, &Invalidation::Session(row.session_id))?;
        } else {
            diesel::update(
                tokens::table
                    .find(&hash)
                    .filter(tokens::revoked_at.is_null()),
            )
            .set(tokens::revoked_at.eq(now))
            .execute(conn)?;
            events::notify(conn, &Invalidation::Token(hash.clone()))?;
        }
        Ok(RevokeOutcome::Revoked)
    })
}

/// Ends a session and revokes every token in it; returns how many tokens
/// were live until now. Ending an ended session changes nothing.
pub fn end_session(conn: &mut DbConnection, session_id: &str) -> Result<usize, Error> {
    let ended = write_transaction(conn, |conn| {
        end_sessions(conn, &[session_id.to_owned()], now())
    })?;
    Ok(ended.revoked_tokens)
}

fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: i64,
) -> Result<usize, diesel::result::Error> {
    diesel::update(
        tokens::table
            .filter(tokens::family_id.eq(family_id))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(now))
    .execute(conn)
}
