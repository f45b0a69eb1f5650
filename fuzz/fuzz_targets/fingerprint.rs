//! Device fingerprints arrive as client JSON: decoding, validation and scoring must never
//! panic, and a score is always within [0, 1].
#![no_main]

use authkit_domain::device::Fingerprint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fingerprint) = serde_json::from_slice::<Fingerprint>(data) else { return };
    let _ = fingerprint.validate();
    let other = Fingerprint { languages: vec!["en".into()], ..fingerprint.clone() };
    for score in [fingerprint.similarity(&fingerprint), fingerprint.similarity(&other), other.similarity(&Fingerprint::default())] {
        assert!((0.0..=1.0).contains(&score), "score {score} out of range");
    }
});
