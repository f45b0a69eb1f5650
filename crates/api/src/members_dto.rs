//! The wire format of tenant members, invitations and the console bootstrap (the same
//! conventions as `tenancy_dto`: `id`, `object`, `created_at`; Unix seconds).

use authkit_domain::member::{Invitation, Membership, Role};
use authkit_domain::registry::Page;
use authkit_domain::service::Invited;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role: each covers everything the roles after it do (docs/security.md).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Everything, and the tenant's members.
    Owner,
    /// Settings, users (disable, enable, export, erase), and below.
    Admin,
    /// API keys (create, rotate, revoke), and below.
    Developer,
    /// Reads settings, keys, users, the audit log and the members.
    Viewer,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Role {
        match role {
            RoleName::Owner => Role::Owner,
            RoleName::Admin => Role::Admin,
            RoleName::Developer => Role::Developer,
            RoleName::Viewer => Role::Viewer,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> RoleName {
        match role {
            Role::Owner => RoleName::Owner,
            Role::Admin => RoleName::Admin,
            Role::Developer => RoleName::Developer,
            Role::Viewer => RoleName::Viewer,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberObject {
    /// The member's console user id.
    pub id: String,
    /// Always `member`.
    pub object: &'static str,
    pub tenant: String,
    pub email: String,
    pub role: RoleName,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Membership> for MemberObject {
    fn from(member: &Membership) -> Self {
        MemberObject {
            id: member.user.to_string(),
            object: "member",
            tenant: member.tenant.to_string(),
            email: member.email.clone(),
            role: member.role.into(),
            created_at: member.created_at.0,
            updated_at: member.updated_at.0,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<MemberObject>,
    /// More follow: ask again with `starting_after` = the last id.
    pub has_more: bool,
}

impl From<Page<Membership>> for MemberList {
    fn from(page: Page<Membership>) -> Self {
        MemberList {
            object: "list",
            data: page.items.iter().map(MemberObject::from).collect(),
            has_more: page.has_more,
        }
    }
}

impl From<Vec<Membership>> for MemberList {
    fn from(memberships: Vec<Membership>) -> Self {
        MemberList {
            object: "list",
            data: memberships.iter().map(MemberObject::from).collect(),
            has_more: false,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMemberRequest {
    /// The address to invite; it accepts by signing in to the console with it.
    pub email: String,
    pub role: RoleName,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: RoleName,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreOwnerRequest {
    /// The address made owner once it signs in to the console and accepts.
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupInvitationRequest {
    /// The address that may create a tenant by sign-up while it is invite-only.
    pub email: String,
}

/// An invitation: the same answer whether or not the address has a console account.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationObject {
    /// Revokes it: `DELETE /v1/invitations/{id}`. Inviting the address again keeps the id.
    pub id: String,
    /// Always `invitation`.
    pub object: &'static str,
    pub tenant: String,
    /// Masked: the address itself is not stored.
    pub email: String,
    pub role: RoleName,
    /// Who invited, as the audit log names actors.
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// In the answer to an invitation only: whether its email went out. When false the
    /// invitation still stands: tell the invitee yourself, or invite again to resend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified: Option<bool>,
}

impl From<&Invitation> for InvitationObject {
    fn from(invitation: &Invitation) -> Self {
        InvitationObject {
            id: invitation.id().as_str().to_owned(),
            object: "invitation",
            tenant: invitation.tenant.to_string(),
            email: invitation.email_masked.clone(),
            role: invitation.role.into(),
            invited_by: invitation.invited_by.clone(),
            created_at: invitation.created_at.0,
            expires_at: invitation.expires_at.0,
            notified: None,
        }
    }
}

impl From<&Invited> for InvitationObject {
    fn from(invited: &Invited) -> Self {
        InvitationObject {
            notified: Some(invited.notified),
            ..InvitationObject::from(&invited.invitation)
        }
    }
}

/// A tenant's pending invitations, every one (the deployment's daily invitation limits
/// bound how many there can be).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<InvitationObject>,
}

impl From<Vec<Invitation>> for InvitationList {
    fn from(invitations: Vec<Invitation>) -> Self {
        InvitationList {
            object: "list",
            data: invitations.iter().map(InvitationObject::from).collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleBootstrapRequest {
    /// Origins of the console's web app, allowed to use the console tenant's publishable
    /// key and members' tokens from a browser. Only read when the tenant is created.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}
