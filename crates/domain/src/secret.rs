//! Secrets and the only way they are kept: as HMAC-SHA256(pepper, context ‖ secret).
//!
//! A secret type never implements `Display` and its `Debug` prints `***`, so it cannot reach
//! a log line by accident. Hashes are compared in constant time.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::clock::Randomness;

/// The server-side key mixed into every stored secret hash, so a leaked table cannot be
/// brute-forced offline (a 6-digit code has only 10^6 values).
#[derive(Clone)]
pub struct Pepper(Zeroizing<Vec<u8>>);

impl Pepper {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Pepper, PepperTooShort> {
        if bytes.len() < Self::MIN_LEN {
            return Err(PepperTooShort(bytes.len()));
        }
        Ok(Pepper(Zeroizing::new(bytes)))
    }

    pub fn generate(random: &dyn Randomness) -> Pepper {
        let mut bytes = vec![0u8; Self::MIN_LEN];
        random.fill(&mut bytes);
        Pepper(Zeroizing::new(bytes))
    }

    /// The pepper's bytes, for adapters that persist it (the local key file).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// HMAC-SHA256(pepper, context ‖ 0x00 ‖ secret). The separator keeps `("ab", "c")` and
    /// `("a", "bc")` apart.
    pub fn hash(&self, context: &str, secret: &[u8]) -> SecretHash {
        SecretHash(self.mac(context, secret))
    }

    /// A secret derived from another: HMAC-SHA256(pepper, context ‖ 0x00 ‖ input) as an
    /// [`OpaqueSecret`]. Without the pepper it cannot be predicted from `input`, and with it
    /// the same input always derives the same secret, so it can be re-derived later instead
    /// of stored. Use a context no stored hash uses.
    pub fn derive_secret(&self, context: &str, input: &[u8]) -> OpaqueSecret {
        let bytes = Zeroizing::new(self.mac(context, input));
        OpaqueSecret(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    fn mac(&self, context: &str, input: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(input);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the pepper must be at least 32 bytes, got {0}")]
pub struct PepperTooShort(pub usize);

/// A keyed hash of a secret. Stored as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Constant-time equality: the time taken does not depend on where the hashes differ.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(raw: &str) -> Result<SecretHash, InvalidSecretHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(raw, &mut bytes).map_err(|_| InvalidSecretHash)?;
        Ok(SecretHash(bytes))
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not secret, but a short prefix is enough to tell two apart in a test.
        write!(f, "SecretHash({}…)", &self.to_hex()[..8])
    }
}

impl TryFrom<String> for SecretHash {
    type Error = InvalidSecretHash;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        SecretHash::from_hex(&raw)
    }
}

impl From<SecretHash> for String {
    fn from(hash: SecretHash) -> String {
        hash.to_hex()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret hash is not 64 hex digits")]
pub struct InvalidSecretHash;

/// An opaque random secret handed to a client once (magic-link token, device secret,
/// refresh-token secret, API key body): 256 bits, base64url without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueSecret(Zeroizing<String>);

impl OpaqueSecret {
    pub const BYTES: usize = 32;
    const ENCODED_LEN: usize = 43;

    pub fn generate(random: &dyn Randomness) -> OpaqueSecret {
        let mut bytes = Zeroizing::new([0u8; Self::BYTES]);
        random.fill(bytes.as_mut());
        OpaqueSecret(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    /// Accepts exactly what [`OpaqueSecret::generate`] produces, so junk never reaches a
    /// store query.
    pub fn parse(raw: &str) -> Result<OpaqueSecret, MalformedSecret> {
        let well_formed = raw.len() == Self::ENCODED_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(MalformedSecret);
        }
        Ok(OpaqueSecret(Zeroizing::new(raw.to_owned())))
    }

    /// The secret in clear, for the one place that hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the secret is malformed")]
pub struct MalformedSecret;

/// A numeric one-time code, 6 to 10 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(Zeroizing<String>);

impl OtpCode {
    /// Every one of the 10^length values is equally likely (uniform draw, no modulo bias).
    pub fn generate(random: &dyn Randomness, length: CodeLength) -> OtpCode {
        let digits = length.get() as usize;
        let value = random.below(10u64.pow(digits as u32));
        OtpCode(Zeroizing::new(format!("{value:0digits$}")))
    }

    /// Accepts the code as a person might type it: surrounding spaces and inner spaces or
    /// dashes ("123 456", "123-456") are dropped; anything else that is not a digit is refused.
    pub fn parse(raw: &str, length: CodeLength) -> Result<OtpCode, MalformedSecret> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let well_formed =
            digits.len() == length.get() as usize && digits.bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(MalformedSecret);
        }
        Ok(OtpCode(Zeroizing::new(digits)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The number of digits in a one-time code: 6 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct CodeLength(u8);

impl CodeLength {
    pub const DEFAULT: CodeLength = CodeLength(6);

    pub fn new(digits: u8) -> Result<CodeLength, InvalidCodeLength> {
        if (6..=10).contains(&digits) {
            Ok(CodeLength(digits))
        } else {
            Err(InvalidCodeLength(digits))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for CodeLength {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<u8> for CodeLength {
    type Error = InvalidCodeLength;
    fn try_from(digits: u8) -> Result<Self, Self::Error> {
        CodeLength::new(digits)
    }
}

impl From<CodeLength> for u8 {
    fn from(length: CodeLength) -> u8 {
        length.0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a code has 6 to 10 digits, not {0}")]
pub struct InvalidCodeLength(pub u8);

/// A random identifier with a type prefix (`ch_`, `usr_`, …): 128 bits, lowercase hex.
pub(crate) fn random_id(prefix: &str, random: &dyn Randomness) -> String {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// True when `raw` looks like an id made by [`random_id`] with this prefix.
pub(crate) fn is_random_id(prefix: &str, raw: &str) -> bool {
    raw.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Declares a newtype id with a prefix, parsing, serde and Display (ids are not secret).
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(random: &dyn $crate::clock::Randomness) -> Self {
                $name($crate::secret::random_id($prefix, random))
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::secret::MalformedId> {
                if $crate::secret::is_random_id($prefix, raw) {
                    Ok($name(raw.to_owned()))
                } else {
                    Err($crate::secret::MalformedId { expected_prefix: $prefix })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::secret::MalformedId;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                $name::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}
pub(crate) use prefixed_id;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed id: expected `{expected_prefix}` followed by 32 hex digits")]
pub struct MalformedId {
    pub expected_prefix: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::testing::SeededRandomness;
    use crate::clock::OsRandomness;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn derived_secrets_are_deterministic_well_formed_and_keyed() {
        let pepper = Pepper::generate(&OsRandomness);
        let derived = pepper.derive_secret("ctx", b"input");
        assert_eq!(derived, pepper.derive_secret("ctx", b"input"));
        assert!(OpaqueSecret::parse(derived.expose()).is_ok());
        assert_ne!(derived, pepper.derive_secret("other", b"input"));
        assert_ne!(derived, pepper.derive_secret("ctx", b"input2"));
        let stranger = Pepper::generate(&OsRandomness);
        assert_ne!(derived, stranger.derive_secret("ctx", b"input"));
    }

    #[test]
    fn codes_cover_every_digit_uniformly() {
        // A peer implementation drew digits 0-8 only; a chi-square test over 60,000 digits
        // catches that and any gross bias (critical value for 9 d.f. at p = 0.001 is 27.9).
        let random = OsRandomness;
        let mut counts = [0u64; 10];
        for _ in 0..10_000 {
            for b in OtpCode::generate(&random, CodeLength::DEFAULT)
                .expose()
                .bytes()
            {
                counts[(b - b'0') as usize] += 1;
            }
        }
        let expected = 60_000.0 / 10.0;
        let chi_square: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(
            counts.iter().all(|&c| c > 0),
            "a digit never appeared: {counts:?}"
        );
        assert!(
            chi_square < 27.9,
            "digit distribution is skewed: {counts:?} (χ² = {chi_square})"
        );
    }

    #[test]
    fn codes_keep_leading_zeros_and_length() {
        let random = SeededRandomness(AtomicU64::new(1));
        for digits in 6..=10 {
            let length = CodeLength::new(digits).unwrap();
            for _ in 0..100 {
                assert_eq!(
                    OtpCode::generate(&random, length).expose().len(),
                    digits as usize
                );
            }
        }
    }

    #[test]
    fn code_parsing_accepts_typed_separators_and_refuses_other_input() {
        let six = CodeLength::DEFAULT;
        assert_eq!(OtpCode::parse(" 123 456 ", six).unwrap().expose(), "123456");
        assert_eq!(OtpCode::parse("123-456", six).unwrap().expose(), "123456");
        for bad in [
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "",
            "123456\u{0}",
        ] {
            assert_eq!(OtpCode::parse(bad, six), Err(MalformedSecret), "{bad:?}");
        }
    }

    #[test]
    fn code_lengths_outside_six_to_ten_are_refused() {
        assert!(CodeLength::new(5).is_err());
        assert!(CodeLength::new(11).is_err());
        assert!(CodeLength::new(10).is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let random = OsRandomness;
        let code = OtpCode::generate(&random, CodeLength::DEFAULT);
        assert_eq!(format!("{code:?}"), "***");
        assert_eq!(format!("{:?}", OpaqueSecret::generate(&random)), "***");
        assert_eq!(format!("{:?}", Pepper::generate(&random)), "Pepper(***)");
    }

    #[test]
    fn hashes_depend_on_pepper_context_and_secret() {
        let random = OsRandomness;
        let pepper = Pepper::generate(&random);
        let other = Pepper::generate(&random);
        let base = pepper.hash("ch_1", b"123456");
        assert!(base.matches(&pepper.hash("ch_1", b"123456")));
        assert!(!base.matches(&pepper.hash("ch_2", b"123456")));
        assert!(!base.matches(&pepper.hash("ch_1", b"123457")));
        assert!(!base.matches(&other.hash("ch_1", b"123456")));
        assert!(!pepper.hash("ab", b"c").matches(&pepper.hash("a", b"bc")));
    }

    #[test]
    fn opaque_secrets_round_trip_and_junk_is_refused() {
        let secret = OpaqueSecret::generate(&OsRandomness);
        assert_eq!(OpaqueSecret::parse(secret.expose()).unwrap(), secret);
        assert!(OpaqueSecret::parse("short").is_err());
        assert!(OpaqueSecret::parse(&"a".repeat(42).to_string().replace('a', "+")).is_err());
    }

    #[test]
    fn short_peppers_are_refused() {
        assert!(Pepper::new(vec![0; 31]).is_err());
        assert!(Pepper::new(vec![0; 32]).is_ok());
    }
}
