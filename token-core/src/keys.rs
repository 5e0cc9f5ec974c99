//! JWT signing keys, kept in the database so that every Auth instance signs
//! with the same key and every API instance can verify without HTTP calls.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;

use crate::db::schema::signing_keys;
use crate::db::{DbConnection, DbPool, write_transaction};
use crate::error::Error;
use crate::time::now;

/// RS256, because RFC 9068 §2.1 requires every resource server to support it.
pub const ALGORITHM: Algorithm = Algorithm::RS256;
const ALGORITHM_NAME: &str = "RS256";
const RSA_BITS: usize = 2048;

/// The minimum time between two reloads of the key set triggered by an
/// unknown `kid`, so that forged tokens cannot make every call a query.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// One key pair, ready to sign and verify.
pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

/// A public key as published in the JWKS document (RFC 7517, RFC 7518 §6.3).
#[derive(Debug, Clone, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// All stored keys; the oldest signs, all verify.
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    pub fn current(&self) -> Option<&SigningKey> {
        self.keys.first()
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<&Jwk> = self.keys.iter().map(|key| &key.jwk).collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Loads the stored keys, creating the first key pair if there is none.
///
/// Generation runs outside the write lock because it takes a while. When
/// two instances start together, the first insert wins and the other key is
/// dropped unused.
pub fn load_or_create(conn: &mut DbConnection) -> Result<KeySet, Error> {
    let existing = load(conn)?;
    if existing.current().is_some() {
        return Ok(existing);
    }

    let (private_pem, public_pem) = generate_rsa_pair()?;
    let kid = uuid::Uuid::new_v4().simple().to_string();
    write_transaction(conn, |conn| {
        let count: i64 = signing_keys::table.count().get_result(conn)?;
        if count == 0 {
            diesel::insert_into(signing_keys::table)
                .values((
                    signing_keys::kid.eq(&kid),
                    signing_keys::algorithm.eq(ALGORITHM_NAME),
                    signing_keys::private_key_pem.eq(&private_pem),
                    signing_keys::public_key_pem.eq(&public_pem),
                    signing_keys::created.eq(now()),
                ))
                .execute(conn)?;
            tracing::info!(key.id = %kid, "created the JWT signing key");
        }
        Ok::<_, Error>(())
    })?;
    load(conn)
}

/// Loads the stored keys, oldest first.
pub fn load(conn: &mut DbConnection) -> Result<KeySet, Error> {
    let rows: Vec<(String, String, String)> = signing_keys::table
        .filter(signing_keys::algorithm.eq(ALGORITHM_NAME))
        .order((signing_keys::created.asc(), signing_keys::kid.asc()))
        .select((
            signing_keys::kid,
            signing_keys::private_key_pem,
            signing_keys::public_key_pem,
        ))
        .load(conn)?;
    let mut keys = Vec::with_capacity(rows.len());
    for (kid, private_pem, public_pem) in rows {
        keys.push(parse_key(kid, &private_pem, &public_pem)?);
    }
    Ok(KeySet { keys })
}

fn parse_key(kid: String, private_pem: &str, public_pem: &str) -> Result<SigningKey, Error> {
    let invalid = |what: &str, error: &dyn std::fmt::Display| {
        Error::Internal(format!(
            "stored signing key {kid} has an invalid {what}: {error}"
        ))
    };
    let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes())
        .map_err(|error| invalid("private key", &error))?;
    let decoding = DecodingKey::from_rsa_pem(public_pem.as_bytes())
        .map_err(|error| invalid("public key", &error))?;
    let public = rsa::PublicKey::from_public_key_pem(public_pem)
        .map_err(|error| invalid("public key", &error))?;
    let jwk = Jwk {
        kty: "RSA",
        key_use: "sig",
        alg: ALGORITHM_NAME,
        kid: kid.clone(),
        n: URL_SAFE_NO_PAD.encode(public.n_bytes()),
        e: URL_SAFE_NO_PAD.encode(public.e_bytes()),
    };
    Ok(SigningKey {
        kid,
        encoding,
        decoding,
        jwk,
    })
}

fn generate_rsa_pair() -> Result<(String, String), Error> {
    let failed = |error: &dyn std::fmt::Display| {
        Error::Internal(format!("RSA key generation failed: {error}"))
    };
    let private =
        rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS).map_err(|error| failed(&error))?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| failed(&error))?
        .to_string();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|error| failed(&error))?;
    Ok((private_pem, public_pem))
}

/// The key set of a running process, reloaded from the database when a
/// token names a key it has not seen yet.
pub struct KeyCache {
    pool: DbPool,
    /// The keys and when they were last reloaded because of an unknown `kid`.
    state: RwLock<(Arc<KeySet>, Option<Instant>)>,
}

impl KeyCache {
    pub fn new(pool: DbPool, keys: KeySet) -> Self {
        KeyCache {
            pool,
            state: RwLock::new((Arc::new(keys), None)),
        }
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.state.read() {
            Ok(state) => state.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// Returns the key set that contains `kid`, reloading at most once per
    /// [`RELOAD_INTERVAL`].
    pub fn for_kid(&self, kid: &str) -> Result<Arc<KeySet>, Error> {
        let keys = self.current();
        if keys.find(kid).is_some() {
            return Ok(keys);
        }
        let mut state = match self.state.write() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let may_reload = state.1.is_none_or(|last| last.elapsed() >= RELOAD_INTERVAL);
        if state.0.find(kid).is_none() && may_reload {
            let mut conn = self.pool.get()?;
            *state = (Arc::new(load(&mut conn)?), Some(Instant::now()));
        }
        Ok(state.0.clone())
    }
}
