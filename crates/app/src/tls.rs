//! TLS for AWS calls: rustls on *ring*, with the post-quantum hybrid key exchange
//! X25519MLKEM768 offered first (decision 170).
//!
//! rustls's aws-lc provider negotiates X25519MLKEM768 too, but aws-lc links all of
//! libcrypto (a third of every function's binary, docs/performance.md). *ring* has no
//! ML-KEM, so the hybrid is composed here from *ring*'s X25519 and the RustCrypto ML-KEM-768
//! (FIPS 203), as draft-ietf-tls-ecdhe-mlkem lays it out: the client's share is the ML-KEM
//! encapsulation key then the X25519 share, the server's the ML-KEM ciphertext then its
//! X25519 share, and the secret the ML-KEM shared key then the X25519 one. Only the client
//! side is built: AuthKit never serves TLS itself. Each handshake uses a fresh key pair,
//! so a decapsulation's timing is never repeated for one key.

use std::sync::Arc;

use ml_kem::{Decapsulate, KeyExport, Seed};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::{ActiveKeyExchange, CryptoProvider, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved, ProtocolVersion};

/// *ring*'s provider with X25519MLKEM768 before its classical groups.
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups.insert(0, X25519_MLKEM768);
    Arc::new(provider)
}

/// The hybrid group, for a `CryptoProvider`'s `kx_groups`.
pub static X25519_MLKEM768: &dyn SupportedKxGroup = &X25519MlKem768;

const X25519_SHARE_LEN: usize = 32;
const MLKEM768_ENCAPSULATION_KEY_LEN: usize = 1184;
const MLKEM768_CIPHERTEXT_LEN: usize = 1088;

#[derive(Debug)]
struct X25519MlKem768;

impl SupportedKxGroup for X25519MlKem768 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let classical = rustls::crypto::ring::kx_group::X25519.start()?;
        let mut seed = Seed::default();
        SystemRandom::new()
            .fill(&mut seed[..])
            .map_err(|_| Error::FailedToGetRandomBytes)?;
        let post_quantum = ml_kem::ml_kem_768::DecapsulationKey::from_seed(seed);
        let mut share = post_quantum.encapsulation_key().to_bytes().to_vec();
        debug_assert_eq!(share.len(), MLKEM768_ENCAPSULATION_KEY_LEN);
        share.extend_from_slice(classical.pub_key());
        Ok(Box::new(ActiveX25519MlKem768 {
            classical,
            post_quantum,
            share,
        }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::TLSv1_3
    }
}

struct ActiveX25519MlKem768 {
    classical: Box<dyn ActiveKeyExchange>,
    post_quantum: ml_kem::ml_kem_768::DecapsulationKey,
    share: Vec<u8>,
}

impl ActiveKeyExchange for ActiveX25519MlKem768 {
    fn complete(self: Box<Self>, server_share: &[u8]) -> Result<SharedSecret, Error> {
        if server_share.len() != MLKEM768_CIPHERTEXT_LEN + X25519_SHARE_LEN {
            return Err(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare));
        }
        let (ciphertext, classical_share) = server_share.split_at(MLKEM768_CIPHERTEXT_LEN);
        let ciphertext = ml_kem::ml_kem_768::Ciphertext::try_from(ciphertext)
            .map_err(|_| Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare))?;
        let classical = self.classical.complete(classical_share)?;
        let mut secret = self.post_quantum.decapsulate(&ciphertext).to_vec();
        secret.extend_from_slice(classical.secret_bytes());
        Ok(SharedSecret::from(secret))
    }

    /// Lets rustls send a plain X25519 share beside the hybrid one, so a server without
    /// ML-KEM answers in one round trip instead of asking again.
    fn hybrid_component(&self) -> Option<(NamedGroup, &[u8])> {
        Some((self.classical.group(), self.classical.pub_key()))
    }

    fn complete_hybrid_component(
        self: Box<Self>,
        server_share: &[u8],
    ) -> Result<SharedSecret, Error> {
        self.classical.complete(server_share)
    }

    fn pub_key(&self) -> &[u8] {
        &self.share
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_share_is_an_encapsulation_key_then_an_x25519_share() {
        let active = X25519_MLKEM768.start().unwrap();
        assert_eq!(
            active.pub_key().len(),
            MLKEM768_ENCAPSULATION_KEY_LEN + X25519_SHARE_LEN
        );
        let (group, classical) = active.hybrid_component().unwrap();
        assert_eq!(group, NamedGroup::X25519);
        assert_eq!(
            classical,
            &active.pub_key()[MLKEM768_ENCAPSULATION_KEY_LEN..]
        );
        assert_ne!(
            X25519_MLKEM768.start().unwrap().pub_key(),
            active.pub_key(),
            "a fresh key pair per handshake"
        );
    }

    #[test]
    fn a_server_share_of_the_wrong_length_is_refused() {
        for length in [0, 32, MLKEM768_CIPHERTEXT_LEN, MLKEM768_CIPHERTEXT_LEN + 31] {
            let active = X25519_MLKEM768.start().unwrap();
            assert!(matches!(
                active.complete(&vec![7; length]),
                Err(Error::PeerMisbehaved(PeerMisbehaved::InvalidKeyShare))
            ));
        }
    }

    #[test]
    fn the_provider_offers_the_hybrid_first_and_keeps_the_classical_groups() {
        let groups: Vec<_> = provider().kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups[0], NamedGroup::X25519MLKEM768);
        assert!(groups.contains(&NamedGroup::X25519));
    }
}
