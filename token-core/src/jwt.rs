//! JWT access tokens in the RFC 9068 profile.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::keys::{ALGORITHM, KeyCache, SigningKey};
use crate::validation::Rejection;

/// The `typ` header of RFC 9068 access tokens.
pub const TOKEN_TYPE: &str = "at+jwt";

/// Claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub sid: String,
}

/// Signs access token claims with the given key.
pub fn sign(key: &SigningKey, claims: &AccessClaims) -> Result<String, Error> {
    let mut header = Header::new(ALGORITHM);
    header.typ = Some(TOKEN_TYPE.to_owned());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
        .map_err(|error| Error::Internal(format!("JWT signing failed: {error}")))
}

/// Verifies signature, expiry, issuer and audience of a token whose header
/// [`access_token_key_id`] accepted and named `kid`.
pub fn verify(
    keys: &KeyCache,
    token: &str,
    kid: &str,
    issuer: &str,
    audience: &str,
) -> Result<AccessClaims, VerifyError> {
    let key_set = keys.for_kid(kid).map_err(VerifyError::Store)?;
    let Some(key) = key_set.find(kid) else {
        return Err(VerifyError::Rejected(Rejection::BadSignature));
    };

    let mut validation = Validation::new(ALGORITHM);
    validation.leeway = 0;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    match jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => Err(VerifyError::Rejected(match error.kind() {
            ErrorKind::ExpiredSignature => Rejection::Expired,
            ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
            ErrorKind::InvalidAudience => Rejection::WrongAudience,
            ErrorKind::InvalidSignature => Rejection::BadSignature,
            _ => Rejection::Malformed,
        })),
    }
}

/// Checks the header of a JWT access token without a key and returns its
/// `kid`. Never panics, whatever the input.
pub fn access_token_key_id(token: &str) -> Result<String, Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;

    // RFC 9068 §4: the resource server must check the type, so that an ID
    // token or another JWT signed by the same key is not taken as an access
    // token.
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(Rejection::NotAnAccessToken);
    }
    if header.alg != ALGORITHM {
        return Err(Rejection::BadSignature);
    }
    header.kid.ok_or(Rejection::BadSignature)
}

/// The reason a JWT did not verify.
#[derive(Debug)]
pub enum VerifyError {
    Rejected(Rejection),
    /// The key set could not be reloaded.
    Store(Error),
}
