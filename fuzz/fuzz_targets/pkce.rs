//! The PKCE values a client sends: `code_challenge` on start, `code_verifier` on exchange.
//! None may panic; an accepted challenge is its own canonical encoding, and a verifier
//! answers the challenge made from it and no other.
#![no_main]

use authkit_domain::pkce::{CodeChallenge, CodeVerifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(challenge) = CodeChallenge::parse(raw) {
        assert_eq!(challenge.to_base64(), raw);
    }
    if let Ok(verifier) = CodeVerifier::parse(raw) {
        assert!((43..=128).contains(&raw.len()));
        let own = CodeChallenge::of(&verifier);
        assert!(own.is_answered_by(&verifier));
        assert_eq!(CodeChallenge::parse(&own.to_base64()), Ok(own));
    }
});
