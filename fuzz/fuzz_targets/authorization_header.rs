//! The Bearer `Authorization` header parser of both servers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data) {
        if let Ok(token) = web_common::bearer::parse(value) {
            // A token that parsed is one token68 value: no spaces or quotes,
            // so it is safe to echo in a challenge.
            assert!(!token.is_empty());
            assert!(!token.contains([' ', '"', '\\']));
        }
    }
});
