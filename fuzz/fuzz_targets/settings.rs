//! Settings loading from a JSON document: key canonicalization, type
//! errors and validation must report, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = token_core::Settings::from_json_str(text);
    }
});
