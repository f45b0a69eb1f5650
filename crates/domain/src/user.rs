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
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}
