//! ES256 for `jsonwebtoken`, on *ring* (decision 170).
//!
//! jsonwebtoken's own backends are aws-lc (all of libcrypto in every function) or
//! RustCrypto with RSA, Ed25519 and P-384 besides. AuthKit signs and verifies ES256 only,
//! and the functions link *ring* for TLS already, so this provider is the one process
//! default: any other algorithm is refused, never answered by a fallback.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};

/// The key as jsonwebtoken takes it, if this provider can sign with it (P-256, PKCS#8 DER
/// with its public key). Every token is signed or verified with a key loaded here, so
/// installing the provider at load makes it the one they use.
pub(super) fn encoding_key(pkcs8: &[u8]) -> Option<EncodingKey> {
    install();
    let key = EncodingKey::from_ec_der(pkcs8);
    signer(&Algorithm::ES256, &key).is_ok().then_some(key)
}

/// Makes this provider the process's default. A process that installed another provider
/// first (a test verifying tokens as an outside client would) keeps it: any provider signs
/// and verifies ES256 alike.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _already_installed = PROVIDER.install_default();
    });
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        compute_digest: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    },
};

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::ES256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let random = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.as_bytes(), &random)
        .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
    Ok(Box::new(Es256Signer { key, random }))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::ES256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(Es256Verifier(key.try_get_as_bytes()?.to_vec())))
}

struct Es256Signer {
    key: EcdsaKeyPair,
    random: SystemRandom,
}

impl signature::Signer<Vec<u8>> for Es256Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let signature = self
            .key
            .sign(&self.random, message)
            .map_err(|_| signature::Error::new())?;
        Ok(signature.as_ref().to_vec())
    }
}

impl JwtSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

/// The public key as an uncompressed SEC1 point (what `DecodingKey::from_ec_components`
/// holds).
struct Es256Verifier(Vec<u8>);

impl signature::Verifier<Vec<u8>> for Es256Verifier {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.0)
            .verify(message, signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Es256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::{Signer as _, Verifier as _};
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;

    use super::*;

    fn key() -> (p256::ecdsa::SigningKey, EncodingKey, DecodingKey) {
        let secret = p256::SecretKey::from_slice(&[7; 32]).unwrap();
        let pkcs8 = secret.to_pkcs8_der().unwrap();
        let public = secret.public_key().to_encoded_point(false);
        let b64 = |bytes: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        };
        let decoding =
            DecodingKey::from_ec_components(&b64(public.x().unwrap()), &b64(public.y().unwrap()))
                .unwrap();
        (
            p256::ecdsa::SigningKey::from(secret),
            EncodingKey::from_ec_der(pkcs8.as_bytes()),
            decoding,
        )
    }

    #[test]
    fn its_signatures_verify_with_another_implementation() {
        let (reference, encoding, _) = key();
        let signature = signer(&Algorithm::ES256, &encoding)
            .unwrap()
            .try_sign(b"header.claims")
            .unwrap();
        assert_eq!(signature.len(), 64, "JWS ES256 is r || s, not DER");
        let signature = p256::ecdsa::Signature::from_slice(&signature).unwrap();
        reference
            .verifying_key()
            .verify(b"header.claims", &signature)
            .expect("p256 accepts ring's signature");
    }

    #[test]
    fn it_verifies_another_implementations_signatures_and_nothing_else() {
        let (reference, _, decoding) = key();
        let signature: p256::ecdsa::Signature = reference.sign(b"header.claims");
        let verifier = verifier(&Algorithm::ES256, &decoding).unwrap();
        let mut bytes = signature.to_bytes().to_vec();
        assert!(verifier.verify(b"header.claims", &bytes).is_ok());
        assert!(verifier.verify(b"header.claimz", &bytes).is_err());
        bytes[10] ^= 1;
        assert!(verifier.verify(b"header.claims", &bytes).is_err());
        assert!(verifier
            .verify(b"header.claims", &bytes[..63].to_vec())
            .is_err());
    }

    #[test]
    fn every_other_algorithm_is_refused() {
        let (_, encoding, decoding) = key();
        for algorithm in [
            Algorithm::HS256,
            Algorithm::RS256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ] {
            assert!(signer(&algorithm, &encoding).is_err());
            assert!(verifier(&algorithm, &decoding).is_err());
        }
    }
}
