//! Proof Key for Code Exchange (RFC 7636), S256 only: an app binds a magic-link sign-in
//! to itself by sending `code_challenge = BASE64URL(SHA-256(code_verifier))` when it starts,
//! and the verifier when it exchanges the result. A result that leaks (history, logs, a
//! planted link) is useless to anyone without the verifier.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// An S256 code challenge: the SHA-256 of the app's verifier, sent as 43 base64url
/// characters. Not secret: it proves nothing without the verifier.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeChallenge([u8; 32]);

impl CodeChallenge {
    const ENCODED_LEN: usize = 43;

    /// Accepts exactly the unpadded base64url encoding of 32 bytes (the alphabet, the
    /// length, and no stray bits in the last character).
    pub fn parse(raw: &str) -> Result<CodeChallenge, MalformedPkce> {
        if raw.len() != Self::ENCODED_LEN {
            return Err(MalformedPkce);
        }
        let mut digest = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(raw, &mut digest) {
            Ok(32) => Ok(CodeChallenge(digest)),
            _ => Err(MalformedPkce),
        }
    }

    /// The challenge this verifier answers.
    pub fn of(verifier: &CodeVerifier) -> CodeChallenge {
        CodeChallenge(Sha256::digest(verifier.0.as_bytes()).into())
    }

    /// Constant time: how much of the digest matched does not show.
    pub fn is_answered_by(&self, verifier: &CodeVerifier) -> bool {
        CodeChallenge::of(verifier).0.ct_eq(&self.0).into()
    }

    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeChallenge({})", self.to_base64())
    }
}

impl TryFrom<String> for CodeChallenge {
    type Error = MalformedPkce;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        CodeChallenge::parse(&raw)
    }
}

impl From<CodeChallenge> for String {
    fn from(challenge: CodeChallenge) -> String {
        challenge.to_base64()
    }
}

/// The app's secret: 43 to 128 characters of `A-Z a-z 0-9 - . _ ~` (RFC 7636 §4.1).
#[derive(Clone)]
pub struct CodeVerifier(Zeroizing<String>);

impl CodeVerifier {
    pub fn parse(raw: &str) -> Result<CodeVerifier, MalformedPkce> {
        let well_formed = (43..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !well_formed {
            return Err(MalformedPkce);
        }
        Ok(CodeVerifier(Zeroizing::new(raw.to_owned())))
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a PKCE code challenge or verifier is malformed")]
pub struct MalformedPkce;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies_and_debug_hides_the_verifier() {
        let verifier = CodeVerifier::parse(VERIFIER).unwrap();
        let challenge = CodeChallenge::parse(CHALLENGE).unwrap();
        assert!(challenge.is_answered_by(&verifier));
        assert_eq!(CodeChallenge::of(&verifier), challenge);
        assert_eq!(challenge.to_base64(), CHALLENGE);
        assert_eq!(format!("{verifier:?}"), "***");
        let other = CodeVerifier::parse(&VERIFIER.replace('d', "e")).unwrap();
        assert!(!challenge.is_answered_by(&other));
    }

    #[test]
    fn a_challenge_is_exactly_43_base64url_characters_without_stray_bits() {
        assert!(CodeChallenge::parse(&CHALLENGE[..42]).is_err());
        assert!(CodeChallenge::parse(&format!("{CHALLENGE}A")).is_err());
        assert!(CodeChallenge::parse(&CHALLENGE.replace('-', "+")).is_err());
        assert!(CodeChallenge::parse(&format!("{}=", &CHALLENGE[..42])).is_err());
        // 'M' ends the example; 'N' differs only in the last character's unused bits.
        assert!(CodeChallenge::parse(&CHALLENGE.replace("cM", "cN")).is_err());
    }

    proptest! {
        #[test]
        fn verifiers_of_the_rfc_charset_and_length_parse(raw in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(CodeVerifier::parse(&raw).is_ok());
        }

        #[test]
        fn verifiers_too_short_or_too_long_are_refused(raw in "[A-Za-z0-9._~-]{0,42}|[A-Za-z0-9._~-]{129,300}") {
            prop_assert!(CodeVerifier::parse(&raw).is_err());
        }

        #[test]
        fn a_verifier_with_any_other_character_is_refused(
            head in "[A-Za-z0-9._~-]{20,60}",
            odd in "[^A-Za-z0-9._~-]",
            tail in "[A-Za-z0-9._~-]{22,60}",
        ) {
            let raw = format!("{head}{odd}{tail}");
            prop_assert!(CodeVerifier::parse(&raw).is_err());
        }

        #[test]
        fn every_digest_round_trips_and_answers_only_its_verifier(
            raw in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let verifier = CodeVerifier::parse(&raw).unwrap();
            let challenge = CodeChallenge::of(&verifier);
            prop_assert_eq!(CodeChallenge::parse(&challenge.to_base64()).unwrap(), challenge);
            prop_assert!(challenge.is_answered_by(&verifier));
            prop_assert_eq!(challenge.is_answered_by(&CodeVerifier::parse(&other).unwrap()), raw == other);
        }

        #[test]
        fn a_parsed_challenge_is_its_own_canonical_encoding(raw in "[A-Za-z0-9_-]{43}|\\PC{0,60}") {
            if let Ok(challenge) = CodeChallenge::parse(&raw) {
                prop_assert_eq!(challenge.to_base64(), raw);
            }
        }
    }
}
