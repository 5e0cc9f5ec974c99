//! Token handles, secret hashing and a string type that never prints itself.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Error;

/// Random bytes in a reference token or refresh token handle (256 bits).
const HANDLE_BYTES: usize = 32;

/// A secret string (token, password, client secret) whose `Debug` and
/// `Display` print only `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Generates a new opaque handle: 256 random bits, base64url without padding.
pub fn generate_handle() -> Result<Secret, Error> {
    let mut bytes = [0u8; HANDLE_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::Internal(format!("the system random source failed: {error}")))?;
    Ok(Secret(URL_SAFE_NO_PAD.encode(bytes)))
}

/// SHA-256 of a handle or client secret, lowercase hex: the only form stored.
///
/// A fast hash is enough because handles carry 256 random bits, and client
/// secrets are required to be long; a slow hash would cost every API call.
pub fn sha256_hex(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0x0f), 16).unwrap_or('0'));
    }
    hex
}

/// Compares two hashes in constant time.
pub fn hashes_equal(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_has_256_bits() {
        let handle = generate_handle().unwrap();
        let decoded = URL_SAFE_NO_PAD.decode(handle.expose()).unwrap();
        assert_eq!(decoded.len(), 32);
        assert_ne!(handle, generate_handle().unwrap());
    }

    #[test]
    fn secret_redacts_itself() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!secret.to_string().contains("hunter2"));
    }

    #[test]
    fn sha256_hex_known_value() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
