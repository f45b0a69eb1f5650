//! Users: one stable id per (tenant, identifier), created on the first verified sign-in.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::identifier::Identifier;
use crate::secret::prefixed_id;
use crate::tenant::TenantId;

prefixed_id!(
    /// A user's stable id (`usr_` and 128 random bits); the `sub` of every token.
    UserId,
    "usr_"
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant: TenantId,
    pub identifier: Identifier,
    pub created_at: Timestamp,
    /// Set while the tenant has disabled the user: no sign-in opens a session for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<Timestamp>,
    /// The user's last sign-in by their identifier (absent for users not signed in since
    /// this was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<Timestamp>,
    /// Set when the identifier, a phone number unused for longer than the tenant allows,
    /// was given to a new user (a recycled number): it no longer names this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_reassigned_at: Option<Timestamp>,
}

impl User {
    /// A new user, signing in now by `identifier`.
    pub fn new(id: UserId, tenant: TenantId, identifier: Identifier, now: Timestamp) -> User {
        User {
            id,
            tenant,
            identifier,
            created_at: now,
            disabled_at: None,
            last_sign_in_at: Some(now),
            identifier_reassigned_at: None,
        }
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Whether the identifier's item still names this user.
    pub fn holds_identifier(&self) -> bool {
        self.identifier_reassigned_at.is_none()
    }

    /// Whether a sign-in by this user's phone number at `now` is likely its next owner's:
    /// the number has not signed in for longer than `after_days`. A user with no recorded
    /// sign-in counts as recent (the clock starts at their next sign-in).
    pub fn phone_looks_reassigned(&self, after_days: Option<u32>, now: Timestamp) -> bool {
        let is_phone = self.identifier.kind() == crate::identifier::IdentifierKind::Phone;
        match (after_days, self.last_sign_in_at) {
            (Some(days), Some(last)) if is_phone => last.plus_secs(i64::from(days) * 86_400) <= now,
            _ => false,
        }
    }
}
