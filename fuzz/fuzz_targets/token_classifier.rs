//! The classifier that decides between JWT and reference token checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use token_core::validation::{MAX_TOKEN_LENGTH, TokenShape, classify};

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        match classify(token) {
            Ok(TokenShape::Jwt { .. }) => assert_eq!(token.matches('.').count(), 2),
            Ok(TokenShape::Reference) => {
                assert!(!token.is_empty());
                assert!(token.len() <= MAX_TOKEN_LENGTH);
            }
            Err(_) => {}
        }
    }
});
