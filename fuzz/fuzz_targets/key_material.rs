//! The key-set document read from Secrets Manager: a malformed secret must be refused with
//! an error, never a panic.
#![no_main]

use authkit_domain::token::KeyMaterial;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(material) = KeyMaterial::from_json(raw) {
        let _ = material.signing.jwks();
    }
});
