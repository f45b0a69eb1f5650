//! Time and randomness, injected so that the domain is deterministic under test.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch. DynamoDB TTL attributes use the same unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Seconds from `self` until `later`, never negative.
    pub fn secs_until(self, later: Timestamp) -> u64 {
        later.0.saturating_sub(self.0).max(0) as u64
    }
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since_epoch.as_secs() as i64)
    }
}

/// A source of cryptographically secure random bytes.
pub trait Randomness: Send + Sync {
    fn fill(&self, dest: &mut [u8]);

    /// A uniform draw from `0..bound` (rejection sampling, so no modulo bias).
    fn below(&self, bound: u64) -> u64 {
        assert!(bound > 0, "bound must be positive");
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let mut bytes = [0u8; 8];
            self.fill(&mut bytes);
            let value = u64::from_le_bytes(bytes);
            if value < zone {
                return value % bound;
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&self, dest: &mut [u8]) {
        // Without the OS CSPRNG no secret can be made safely; there is no fallback to take.
        getrandom::fill(dest).expect("the operating system's random source failed");
    }
}

/// A clock moved by hand: for tests in this and other crates, and for the Cognito flow
/// driver, which must make time pass without waiting.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn at(secs: i64) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(secs))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Deterministic bytes (splitmix64), so test secrets are reproducible.
    #[derive(Debug)]
    pub struct SeededRandomness(pub AtomicU64);

    impl Randomness for SeededRandomness {
        fn fill(&self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let mut z = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
            }
        }
    }

    #[test]
    fn below_stays_in_bounds() {
        let random = SeededRandomness(AtomicU64::new(7));
        for bound in [1u64, 2, 10, 1_000_000, 10_000_000_000] {
            for _ in 0..200 {
                assert!(random.below(bound) < bound);
            }
        }
    }
}
