//! Refresh tokens: opaque `<family id>.<secret>`, rotated on every use, each new secret
//! derived from the one it replaces (decision 35).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::{Randomness, Timestamp};
use crate::device::DeviceId;
use crate::secret::{prefixed_id, MalformedSecret, OpaqueSecret, Pepper, SecretHash};
use crate::tenant::TenantId;
use crate::user::UserId;

prefixed_id!(
    /// A refresh-token family (a session): every token rotated from one sign-in shares it.
    FamilyId,
    "rtf_"
);

impl FamilyId {
    /// The id shortened for logs and audit: enough to tell sessions apart and to find one
    /// in the store by prefix, not enough to name it in a request.
    pub fn redacted(&self) -> String {
        format!("{}…", &self.as_str()[..FamilyId::PREFIX.len() + 8])
    }
}

/// A refresh token as handed out: `<family id>.<secret>`. Only the secret's hash is stored.
#[derive(Clone)]
pub struct RefreshToken {
    pub family: FamilyId,
    pub secret: OpaqueSecret,
}

impl RefreshToken {
    pub fn generate(family: FamilyId, random: &dyn Randomness) -> RefreshToken {
        RefreshToken {
            family,
            secret: OpaqueSecret::generate(random),
        }
    }

    pub fn parse(raw: &str) -> Result<RefreshToken, MalformedSecret> {
        let (family, secret) = raw.split_once('.').ok_or(MalformedSecret)?;
        Ok(RefreshToken {
            family: FamilyId::parse(family).map_err(|_| MalformedSecret)?,
            secret: OpaqueSecret::parse(secret)?,
        })
    }

    pub fn reveal(&self) -> String {
        format!("{}.{}", self.family, self.secret.expose())
    }

    pub fn hash(&self, pepper: &Pepper) -> SecretHash {
        pepper.hash(
            &format!("refresh:{}", self.family),
            self.secret.expose().as_bytes(),
        )
    }

    /// The token a rotation replaces this one with. Derived, not drawn at random, so that a
    /// retried rotation re-derives the same token instead of storing it, and so that any
    /// token the family ever issued leads, step by step, to the current one.
    pub fn successor(&self, pepper: &Pepper) -> RefreshToken {
        RefreshToken {
            family: self.family.clone(),
            secret: pepper.derive_secret(
                &format!("refresh-successor:{}", self.family),
                self.secret.expose().as_bytes(),
            ),
        }
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefreshToken({}, ***)", self.family)
    }
}

/// How long the token a rotation replaced may be presented again and get the same new
/// token: a retried request, or two tabs refreshing at once (decision 35).
pub const REFRESH_RETRY_GRACE_SECS: i64 = 30;

/// How many rotations back a presented token is still recognised as one this family
/// issued (and so as a replay). Bounds the work an unknown token costs.
pub const REFRESH_REUSE_LOOKBACK: u32 = 100;

/// One sign-in's chain of refresh tokens. Only the newest token's hash is stored; each
/// token's successor is derived from it ([`RefreshToken::successor`]), so an older token of
/// the family is recognised by walking forward from it to the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub id: FamilyId,
    pub tenant: TenantId,
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
    pub amr: Vec<String>,
    pub current_hash: SecretHash,
    pub generation: u32,
    /// When the user proved who they are: the access tokens' `auth_time`.
    pub created_at: Timestamp,
    /// When `current_hash` was set (`created_at` until the first rotation).
    pub rotated_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// What a presented refresh token is to its family.
#[derive(Debug, Clone)]
pub enum Presented {
    /// The current token: rotate it.
    Current,
    /// The token the last rotation replaced, again within the grace window: a retry, which
    /// gets the same successor (the current token).
    Retry(RefreshToken),
    /// A token this family issued and already rotated away, outside the grace window: a
    /// copy is in someone else's hands.
    Replayed,
    /// Not a token this family issued (or one too old to tell): merely invalid.
    Unknown,
}

impl RefreshFamily {
    /// Judges a token of this family (the caller looked the family up by its id). Only a
    /// token that really was issued counts as a replay, so a made-up secret for a known
    /// family id cannot end the session.
    pub fn judge(&self, presented: &RefreshToken, pepper: &Pepper, now: Timestamp) -> Presented {
        if presented.hash(pepper).matches(&self.current_hash) {
            return Presented::Current;
        }
        let mut candidate = presented.clone();
        for step in 1..=self.generation.min(REFRESH_REUSE_LOOKBACK) {
            candidate = candidate.successor(pepper);
            if candidate.hash(pepper).matches(&self.current_hash) {
                let retry = step == 1 && now < self.rotated_at.plus_secs(REFRESH_RETRY_GRACE_SECS);
                return if retry {
                    Presented::Retry(candidate)
                } else {
                    Presented::Replayed
                };
            }
        }
        Presented::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandomness;

    #[test]
    fn a_family_tells_its_current_retried_replayed_and_unknown_tokens_apart() {
        let pepper = Pepper::generate(&OsRandomness);
        let first = RefreshToken::generate(FamilyId::generate(&OsRandomness), &OsRandomness);
        let (second, third) = (
            first.successor(&pepper),
            first.successor(&pepper).successor(&pepper),
        );
        let family = RefreshFamily {
            id: first.family.clone(),
            tenant: TenantId::parse("acme").unwrap(),
            user_id: UserId::generate(&OsRandomness),
            device_id: None,
            amr: vec![],
            current_hash: third.hash(&pepper),
            generation: 2,
            created_at: Timestamp(0),
            rotated_at: Timestamp(100),
            expires_at: Timestamp(10_000),
            revoked_at: None,
        };
        let judge = |token: &RefreshToken, now| family.judge(token, &pepper, Timestamp(now));
        assert!(matches!(judge(&third, 100), Presented::Current));
        assert!(
            matches!(judge(&second, 129), Presented::Retry(next) if next.reveal() == third.reveal())
        );
        assert!(matches!(judge(&second, 130), Presented::Replayed));
        assert!(matches!(judge(&first, 100), Presented::Replayed));
        let made_up = RefreshToken::generate(first.family.clone(), &OsRandomness);
        assert!(matches!(judge(&made_up, 100), Presented::Unknown));
        assert_eq!(first.family.redacted().chars().count(), 13);
        assert!(first
            .family
            .as_str()
            .starts_with(first.family.redacted().trim_end_matches('…')));
    }

    #[test]
    fn refresh_tokens_round_trip() {
        let token = RefreshToken::generate(FamilyId::generate(&OsRandomness), &OsRandomness);
        let parsed = RefreshToken::parse(&token.reveal()).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        assert!(parsed.hash(&pepper).matches(&token.hash(&pepper)));
        assert!(RefreshToken::parse("rtf_x.y").is_err());
    }
}
