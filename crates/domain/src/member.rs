//! Tenant members: people who manage a tenant from a browser. They are users of the
//! built-in console tenant ([`CONSOLE_TENANT`]), sign in through AuthKit itself, and hold
//! a [`Role`] on one or more tenants; the role decides which [`Operation`]s of the tenant
//! API they may call. Owners invite members by email; an invitation is found by a keyed
//! hash of the address, never by the address itself.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::event::Event;
use crate::registry::Page;
use crate::secret::SecretHash;
use crate::store::StoreError;
use crate::tenant::{KeyKind, TenantId};
use crate::user::UserId;

/// The id of the built-in tenant whose users are tenant members (decision 128).
pub const CONSOLE_TENANT: &str = "console";

/// How long an invitation can be accepted.
pub const INVITATION_TTL_SECS: i64 = 7 * 24 * 3600;

/// What a member may do on a tenant, each role everything the one below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Developer,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Developer, Role::Viewer];

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role covers `operation`: the role matrix of docs/security.md.
    pub fn allows(self, operation: Operation) -> bool {
        self >= operation.least_role()
    }

    /// The operation, if this role covers it; 403 `role_forbidden` otherwise.
    pub fn permit(self, operation: Operation) -> Result<(), crate::error::AuthError> {
        if self.allows(operation) {
            Ok(())
        } else {
            Err(crate::error::AuthError::RoleForbids)
        }
    }
}

/// The tenant API's operations as roles see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ReadSettings,
    ChangeSettings,
    ReadKeys,
    /// Create, rotate and revoke publishable API keys.
    ManageKeys,
    /// Create, rotate and revoke secret keys. A secret key can do everything the tenant
    /// can (members included), so minting one is an owner's act: a developer who could
    /// would be an owner in all but name.
    ManageSecretKeys,
    /// Find and read users, their devices and sessions.
    ReadUsers,
    /// Disable, enable, revoke a user's sessions.
    ManageUsers,
    /// A user's whole export (GDPR), and erasure.
    ExportOrEraseUsers,
    ReadAudit,
    ReadMembers,
    /// Invite, remove, change roles.
    ManageMembers,
}

impl Operation {
    /// The least role that may perform the operation.
    pub fn least_role(self) -> Role {
        match self {
            Operation::ReadSettings
            | Operation::ReadKeys
            | Operation::ReadUsers
            | Operation::ReadAudit
            | Operation::ReadMembers => Role::Viewer,
            Operation::ManageKeys => Role::Developer,
            Operation::ChangeSettings | Operation::ManageUsers | Operation::ExportOrEraseUsers => {
                Role::Admin
            }
            Operation::ManageMembers | Operation::ManageSecretKeys => Role::Owner,
        }
    }

    /// What managing a key of `kind` is.
    pub fn manage_key(kind: KeyKind) -> Operation {
        match kind {
            KeyKind::Publishable => Operation::ManageKeys,
            KeyKind::Secret => Operation::ManageSecretKeys,
        }
    }
}

/// A member's role on one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub tenant: TenantId,
    /// The member: a user of the console tenant.
    pub user: UserId,
    /// The member's address, as the console tenant knows it (owners see who their members are).
    pub email: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An address invited to a tenant with a role, until it signs in to the console and
/// accepts, or the invitation expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub tenant: TenantId,
    /// HMAC(pepper, the address's matching key): the address itself is not stored.
    pub email_hash: SecretHash,
    /// The address masked (`j***@example.com`), for listings.
    pub email_masked: String,
    pub role: Role,
    /// Who invited (as the audit log names actors).
    pub invited_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Invitation {
    /// The invitation's id for the tenant's owners: derived from the tenant and the
    /// address's hash, so the same address has unrelated ids on two tenants (the hash
    /// itself would link them), and an invitation sent again keeps its id.
    pub fn id(&self) -> InvitationId {
        let digest = Sha256::new()
            .chain_update(b"authkit invitation id\0")
            .chain_update(self.tenant.as_str())
            .chain_update(b"\0")
            .chain_update(self.email_hash.to_hex())
            .finalize();
        InvitationId(format!("inv_{}", hex::encode(&digest[..16])))
    }
}

/// An invitation's id (`inv_` and 32 hex digits), as owners list and revoke it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvitationId(String);

impl InvitationId {
    pub fn parse(raw: &str) -> Option<InvitationId> {
        let digits = raw.strip_prefix("inv_")?;
        (digits.len() == 32
            && digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| InvitationId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One change of a member's role, applied whole or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberChange {
    pub tenant: TenantId,
    pub user: UserId,
    /// The role the change was decided from (None: not a member): the store applies the
    /// change only if the member still has it.
    pub expected: Option<Role>,
    /// The membership afterwards; None removes it.
    pub next: Option<Membership>,
    /// The invitation (by its address's hash) this change accepts: it must still exist,
    /// and goes with the change.
    pub accepting: Option<SecretHash>,
    /// The address (by its hash) whose pending invitation to this tenant, if any, goes
    /// with the change: a removed member does not come back through an invitation sent
    /// before the removal.
    pub cancelling: Option<SecretHash>,
    pub event: Event,
}

impl MemberChange {
    /// Whether the change takes an owner away (a removal or demotion of an owner).
    pub fn loses_owner(&self) -> bool {
        self.expected == Some(Role::Owner)
            && self.next.as_ref().map(|next| next.role) != Some(Role::Owner)
    }

    /// Whether the change makes an owner of someone who was not one.
    pub fn gains_owner(&self) -> bool {
        self.expected != Some(Role::Owner)
            && self.next.as_ref().map(|next| next.role) == Some(Role::Owner)
    }
}

/// How a member change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberWritten {
    Done,
    /// The member's role is not the expected one any more, or the invitation is gone:
    /// nothing was written.
    Stale,
    /// The change would leave the tenant without an owner: nothing was written.
    LastOwner,
}

/// Memberships and invitations, in the directory. Every tenant counts its owners beside
/// its members, and a change that takes an owner away applies only while the count is
/// above one, in the same atomic step: two owners removing each other at once cannot
/// both succeed.
#[async_trait]
pub trait MemberRegistry: Send + Sync {
    async fn member(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Option<Membership>, StoreError>;

    /// The tenant's members by user id, after `after`, at most `limit`.
    async fn list_members(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Page<Membership>, StoreError>;

    /// Every tenant the user is a member of, by tenant id.
    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StoreError>;

    /// Applies the change with its event, if the member still has the expected role, the
    /// accepted invitation still exists, and an owner taken away leaves another.
    async fn change_member(&self, change: &MemberChange) -> Result<MemberWritten, StoreError>;

    /// Stores an invitation (replacing one to the same address for the same tenant) with
    /// its event.
    async fn put_invitation(
        &self,
        invitation: &Invitation,
        event: &Event,
    ) -> Result<(), StoreError>;

    /// The unexpired invitations of an address, to every tenant.
    async fn invitations_for(
        &self,
        email_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError>;

    /// The tenant's unexpired invitations, every one (the deployment's daily invitation
    /// limits bound how many there can be).
    async fn tenant_invitations(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError>;

    /// Deletes the tenant's invitation to the address (by its hash) with the event, if it
    /// is still there; whether it was.
    async fn revoke_invitation(
        &self,
        tenant: &TenantId,
        email_hash: &SecretHash,
        event: &Event,
    ) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_covers_exactly_its_operations() {
        use Operation::*;
        let matrix = [
            (ReadSettings, [true, true, true, true]),
            (ReadKeys, [true, true, true, true]),
            (ReadUsers, [true, true, true, true]),
            (ReadAudit, [true, true, true, true]),
            (ReadMembers, [true, true, true, true]),
            (ManageKeys, [true, true, true, false]),
            (ChangeSettings, [true, true, false, false]),
            (ManageUsers, [true, true, false, false]),
            (ExportOrEraseUsers, [true, true, false, false]),
            (ManageMembers, [true, false, false, false]),
            (ManageSecretKeys, [true, false, false, false]),
        ];
        for (operation, allowed) in matrix {
            for (role, expected) in Role::ALL.into_iter().zip(allowed) {
                assert_eq!(
                    role.allows(operation),
                    expected,
                    "{} on {operation:?}",
                    role.as_str()
                );
            }
        }
    }

    #[test]
    fn roles_read_back_from_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
