//! Access tokens as a client presents them (`Authorization: Bearer …` on the device routes):
//! reading the audience before verification and verifying must never panic, and no input
//! the fuzzer makes verifies against a key set it does not hold.
#![no_main]

use std::sync::OnceLock;

use authkit_domain::tenant::TenantId;
use authkit_domain::token::{unverified_audience, verify_access_token, KeyMaterial};
use authkit_domain::{OsRandomness, Timestamp};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static KeyMaterial {
    static KEYS: OnceLock<KeyMaterial> = OnceLock::new();
    KEYS.get_or_init(|| KeyMaterial::generate(&OsRandomness))
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let audience = unverified_audience(raw).unwrap_or_else(|| TenantId::parse("acme").unwrap());
    let verified = verify_access_token(
        &keys().signing,
        raw,
        "https://auth.example.com",
        &audience,
        Timestamp(1_000),
    );
    assert!(verified.is_err(), "a token nobody signed verified");
});
