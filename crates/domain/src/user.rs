//! Users: one stable id per (tenant, identifier), created on the first verified sign-in.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::identifier::{Identifier, IdentifierKind};
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
    /// The identifier the user signed up with, or the one that remains of two.
    pub identifier: Identifier,
    /// A second identifier of the other kind (a phone number beside an email address, or
    /// the reverse), proved while signed in (decision 122). Absent on items written
    /// before users could hold two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_identifier: Option<Identifier>,
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
    /// The last sign-in (or proof) by the user's phone number, the clock of decision 96
    /// once a user holds two identifiers: a sign-in by email says nothing about whether
    /// they still own the number. Absent: `last_sign_in_at` (a user who held one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_used_at: Option<Timestamp>,
}

impl User {
    /// A new user, signing in now by `identifier`.
    pub fn new(id: UserId, tenant: TenantId, identifier: Identifier, now: Timestamp) -> User {
        User {
            id,
            tenant,
            identifier,
            second_identifier: None,
            created_at: now,
            disabled_at: None,
            last_sign_in_at: Some(now),
            identifier_reassigned_at: None,
            phone_used_at: None,
        }
    }

    /// The identifiers whose items name this user: every write on the user covers these
    /// and the item by id.
    pub fn identifiers(&self) -> Vec<&Identifier> {
        let first = self.holds_identifier().then_some(&self.identifier);
        first
            .into_iter()
            .chain(self.second_identifier.as_ref())
            .collect()
    }

    /// The user's identifier of `kind`, if they hold one.
    pub fn identifier_of(&self, kind: IdentifierKind) -> Option<&Identifier> {
        self.identifiers()
            .into_iter()
            .find(|identifier| identifier.kind() == kind)
    }

    /// This user after proving `proved` at `at`: it replaces their identifier of its kind,
    /// or joins the one they hold as the second.
    pub fn with_identifier(&self, proved: Identifier, at: Timestamp) -> User {
        let kind = proved.kind();
        let mut next = self.clone();
        if kind == IdentifierKind::Phone {
            next.phone_used_at = Some(at);
        } else if next.phone_used_at.is_none() {
            // Until now every sign-in was by the one identifier they held.
            next.phone_used_at = self.last_sign_in_at;
        }
        if !self.holds_identifier() {
            next.identifier = proved;
            next.identifier_reassigned_at = None;
        } else if self.identifier.kind() == kind {
            next.identifier = proved;
        } else {
            next.second_identifier = Some(proved);
        }
        next
    }

    /// This user without their identifier of `kind`, when another remains.
    pub fn without_identifier(&self, kind: IdentifierKind) -> Option<User> {
        let second = self.second_identifier.clone()?;
        let mut next = self.clone();
        if self.identifier.kind() == kind {
            next.identifier = second;
        } else if second.kind() != kind {
            return None;
        }
        next.second_identifier = None;
        Some(next)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Whether the identifier's item still names this user.
    pub fn holds_identifier(&self) -> bool {
        self.identifier_reassigned_at.is_none()
    }

    /// Whether a sign-in by `by`, this user's phone number, at `now` is likely its next
    /// owner's: the number has not been used for longer than `after_days`. A user with
    /// no recorded sign-in counts as recent (the clock starts at their next sign-in).
    pub fn phone_looks_reassigned(
        &self,
        by: &Identifier,
        after_days: Option<u32>,
        now: Timestamp,
    ) -> bool {
        let has_phone = by.kind() == IdentifierKind::Phone
            && self
                .identifier_of(IdentifierKind::Phone)
                .is_some_and(|phone| phone.matching_key() == by.matching_key());
        match (after_days, self.phone_used_at.or(self.last_sign_in_at)) {
            (Some(days), Some(last)) if has_phone => {
                last.plus_secs(i64::from(days) * 86_400) <= now
            }
            _ => false,
        }
    }

    /// What stays of this user when their phone number goes to a new user (decision
    /// 122): their other identifier if they hold one, else the number itself, marked as
    /// no longer theirs.
    pub fn after_phone_reassigned(&self, at: Timestamp) -> User {
        match self.without_identifier(IdentifierKind::Phone) {
            Some(kept) => User {
                phone_used_at: None,
                ..kept
            },
            None => User {
                identifier_reassigned_at: Some(at),
                ..self.clone()
            },
        }
    }
}
