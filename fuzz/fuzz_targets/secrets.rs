//! Every secret-bearing string a client sends: codes, magic-link tokens, API keys, refresh
//! tokens, device credentials, challenge ids. None may panic; accepted values round-trip.
#![no_main]

use authkit_domain::challenge::ChallengeId;
use authkit_domain::secret::{CodeLength, OpaqueSecret, OtpCode};
use authkit_domain::service::DeviceCredential;
use authkit_domain::tenant::ApiKey;
use authkit_domain::token::RefreshToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    for digits in 6..=10 {
        if let Ok(code) = OtpCode::parse(raw, CodeLength::new(digits).expect("6-10 is valid")) {
            assert_eq!(code.expose().len(), usize::from(digits));
        }
    }
    if let Ok(secret) = OpaqueSecret::parse(raw) {
        assert_eq!(secret.expose(), raw);
    }
    if let Ok(key) = ApiKey::parse(raw) {
        assert_eq!(key.reveal(), raw);
    }
    if let Ok(token) = RefreshToken::parse(raw) {
        assert_eq!(token.reveal(), raw);
    }
    if let Ok(credential) = DeviceCredential::parse(raw) {
        assert_eq!(credential.reveal(), raw);
    }
    if let Ok(id) = ChallengeId::parse(raw) {
        assert_eq!(id.as_str(), raw);
    }
});
