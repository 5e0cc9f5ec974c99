//! The form-body parser and the HTTP Basic credential parser of Auth.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = auth_server::form::parse(data) {
        // Parsing is deterministic and every kept value is non-empty.
        for name in ["grant_type", "token", "scope", "client_id"] {
            if let Some(value) = params.get(name) {
                assert!(!value.is_empty());
            }
        }
    }
    if let Ok(value) = std::str::from_utf8(data) {
        if let Ok(Some(credentials)) = auth_server::client_auth::parse_basic(value) {
            assert!(!credentials.id.is_empty());
        }
    }
});
