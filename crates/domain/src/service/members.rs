//! Tenant members: the console tenant they sign in to, how their access token is judged
//! for a tenant, and how owners invite, re-role and remove them (decisions 128-133).
//! A tenant never loses its last owner: the store refuses the change that would.

use super::tenant_admin::{Actor, PageRequest};
use super::{AuthKit, CreatedTenant, RequestContext};
use crate::clock::Timestamp;
use crate::delivery::{InvitationNotice, InvitationPurpose, MessageContent, OutgoingMessage};
use crate::error::AuthError;
use crate::event::EventKind;
use crate::identifier::{Channel, Email, Identifier};
use crate::member::{
    Invitation, InvitationId, MemberChange, MemberWritten, Membership, Operation, Role,
    CONSOLE_TENANT, INVITATION_TTL_SECS,
};
use crate::rate_limit::{
    Action, CountedLimit, Limit, Subject, INVITATIONS_PER_MAILBOX, INVITATIONS_PER_TENANT,
};
use crate::registry::Page;
use crate::secret::SecretHash;
use crate::tenant::{KeyKind, Tenant, TenantId, TenantSettings, WebOrigin};
use crate::user::UserId;

/// A console member whose access token passed every check, acting on a tenant they hold
/// a role on.
#[derive(Debug, Clone)]
pub struct MemberCaller {
    pub tenant: Tenant,
    pub user: UserId,
    pub role: Role,
    /// The request's origin when it may read the answer.
    pub allowed_origin: Option<WebOrigin>,
}

impl MemberCaller {
    /// The operation, if the member's role covers it; 403 `role_forbidden` otherwise.
    pub fn permit(&self, operation: Operation) -> Result<(), AuthError> {
        self.role.permit(operation)
    }
}

/// An invitation as stored, and whether its email went out.
#[derive(Debug, Clone)]
pub struct Invited {
    pub invitation: Invitation,
    pub notified: bool,
}

/// A signed-in console user (a member, or someone about to accept an invitation).
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub user: UserId,
    pub allowed_origin: Option<WebOrigin>,
}

/// The context of invitations' address hashes (no other stored hash uses it).
const INVITATION_CONTEXT: &str = "member-invitation";

impl AuthKit {
    pub(super) fn console_id() -> TenantId {
        TenantId::parse(CONSOLE_TENANT).expect("the console tenant's id is valid")
    }

    /// Creates the console tenant unless it exists (in any state): email codes only, its
    /// publishable key for the console's browsers at `allowed_origins`. Its keys are shown
    /// by the call that creates it; later calls answer None and change nothing.
    pub async fn ensure_console_tenant(
        &self,
        actor: &Actor,
        allowed_origins: Vec<WebOrigin>,
    ) -> Result<Option<CreatedTenant>, AuthError> {
        match self.stored_tenant(CONSOLE_TENANT).await {
            Ok(_) => return Ok(None),
            Err(AuthError::TenantNotFound) => {}
            Err(error) => return Err(error),
        }
        let settings = TenantSettings {
            allowed_origins: Some(allowed_origins),
            enabled_channels: vec![Channel::Email],
            ..TenantSettings::new(
                "AuthKit Console".to_owned(),
                Vec::new(),
                super::signup::console_policy(),
            )
        };
        match self
            .create_tenant_as(actor, Self::console_id(), settings, None)
            .await
        {
            Ok(created) => Ok(Some(created)),
            // Another process created it first (or it was deleted once: its id is kept).
            Err(AuthError::TenantExists) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A console user from their access token: the console tenant must be in good
    /// standing, a browser must be on its allowed origins, and the session live.
    pub async fn console_user(
        &self,
        token: &str,
        request: &RequestContext<'_>,
    ) -> Result<ConsoleUser, AuthError> {
        let console = self
            .tenant(CONSOLE_TENANT)
            .await
            .map_err(|error| match error {
                AuthError::TenantNotFound => AuthError::InvalidAccessToken,
                other => other,
            })?;
        let allowed_origin = self.check_context(&console, KeyKind::Publishable, request)?;
        let claims = self
            .authenticate_live_access_token(&console.id, token)
            .await?;
        Ok(ConsoleUser {
            user: claims.sub,
            allowed_origin,
        })
    }

    /// A member acting on `tenant` (the request's `AuthKit-Tenant`) with their console
    /// access token: the token is judged first (401), then the tenant must be named (400).
    /// A tenant they hold no role on is not found, exactly like one that does not exist.
    pub async fn authenticate_member(
        &self,
        token: &str,
        tenant: Option<&str>,
        request: &RequestContext<'_>,
    ) -> Result<MemberCaller, AuthError> {
        let console = self.console_user(token, request).await?;
        let tenant = tenant.ok_or(AuthError::InvalidRequest(
            "a member's token needs the AuthKit-Tenant header naming the tenant",
        ))?;
        let id = TenantId::parse(tenant).map_err(|_| AuthError::TenantNotFound)?;
        let membership = self
            .stores
            .members
            .member(&id, &console.user)
            .await?
            .ok_or(AuthError::TenantNotFound)?;
        let tenant = self.tenant(id.as_str()).await?;
        Ok(MemberCaller {
            tenant,
            user: console.user,
            role: membership.role,
            allowed_origin: console.allowed_origin,
        })
    }

    /// The tenant's members, by user id.
    pub async fn list_members(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Membership>, AuthError> {
        let after = match &page.starting_after {
            None => None,
            Some(raw) => Some(
                UserId::parse(raw)
                    .map_err(|_| AuthError::InvalidRequest("starting_after is a member id"))?,
            ),
        };
        Ok(self
            .stores
            .members
            .list_members(tenant, after.as_ref(), page.limit)
            .await?)
    }

    /// The tenant's pending invitations, by id.
    pub async fn list_invitations(&self, tenant: &TenantId) -> Result<Vec<Invitation>, AuthError> {
        let mut pending = self
            .stores
            .members
            .tenant_invitations(tenant, self.now())
            .await?;
        // An id is a hash: computed once per invitation, not once per comparison.
        pending.sort_by_cached_key(|invitation| invitation.id());
        Ok(pending)
    }

    /// Revokes a pending invitation: the address can no longer accept it (an invitation
    /// already accepted made a member, whom owners remove instead). 404
    /// `invitation_not_found` for an id the tenant has no pending invitation by.
    pub async fn revoke_invitation(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), AuthError> {
        let id = InvitationId::parse(id).ok_or(AuthError::InvitationNotFound)?;
        let invitation = self
            .stores
            .members
            .tenant_invitations(tenant, self.now())
            .await?
            .into_iter()
            .find(|invitation| invitation.id() == id)
            .ok_or(AuthError::InvitationNotFound)?;
        let event = self.invitation_event(EventKind::MemberInvitationRevoked, actor, &invitation);
        let revoked = self
            .stores
            .members
            .revoke_invitation(tenant, &invitation.email_hash, &event)
            .await?;
        // Accepted or revoked by someone else between the read and the delete.
        revoked.then_some(()).ok_or(AuthError::InvitationNotFound)
    }

    /// The tenants a console user is a member of.
    pub async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, AuthError> {
        Ok(self.stores.members.memberships_of(user).await?)
    }

    /// Invites an address to the tenant with a role, and emails the invitation. The answer
    /// is the same whether or not the address has a console account: it learns nothing
    /// about who exists.
    pub async fn invite_member(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        email: &str,
        role: Role,
    ) -> Result<Invited, AuthError> {
        let email = Email::parse(email)?;
        let inviting = self.inviting_tenant(tenant).await?;
        self.admit_invitation(tenant, &email, self.now()).await?;
        self.invite(actor, inviting, email, role, InvitationPurpose::Membership)
            .await
    }

    /// The tenant an invitation is to: any but the console tenant, whose users are the
    /// deployment's members, not its own.
    async fn inviting_tenant(&self, tenant: &TenantId) -> Result<Tenant, AuthError> {
        if tenant.as_str() == CONSOLE_TENANT {
            return Err(AuthError::InvalidRequest(
                "the console tenant has no members: nobody is invited to it",
            ));
        }
        self.stored_tenant(tenant.as_str()).await
    }

    /// Stores the invitation with its event, then emails it.
    async fn invite(
        &self,
        actor: &Actor,
        inviting: Tenant,
        email: Email,
        role: Role,
        purpose: InvitationPurpose,
    ) -> Result<Invited, AuthError> {
        let now = self.now();
        let invitation = Invitation {
            tenant: inviting.id.clone(),
            email_hash: self.invitation_hash(&email),
            email_masked: email.masked(),
            role,
            invited_by: actor.describe(),
            created_at: now,
            expires_at: now.plus_secs(INVITATION_TTL_SECS),
        };
        let event = self.invitation_event(EventKind::MemberInvited, actor, &invitation);
        self.stores
            .members
            .put_invitation(&invitation, &event)
            .await?;
        let notified = self
            .notify_invitation(&invitation, inviting.name, email, purpose)
            .await;
        Ok(Invited {
            invitation,
            notified,
        })
    }

    /// Emails the invitation; whether it went. A failed email keeps the invitation (it is
    /// stored, and the inviter can tell the invitee or invite again), and is logged without
    /// the address.
    async fn notify_invitation(
        &self,
        invitation: &Invitation,
        tenant_name: String,
        email: Email,
        purpose: InvitationPurpose,
    ) -> bool {
        let console_url = self
            .tenant_by_id(&Self::console_id())
            .await
            .ok()
            .and_then(|console| console.allowed_origins?.into_iter().next())
            .map(String::from);
        let message = OutgoingMessage {
            tenant: invitation.tenant.clone(),
            tenant_name,
            channel: Channel::Email,
            to: Identifier::Email(email),
            content: MessageContent::Invitation(InvitationNotice {
                role: invitation.role,
                console_url,
                purpose,
            }),
            expires_in_secs: u32::try_from(INVITATION_TTL_SECS).unwrap_or(u32::MAX),
        };
        match self.sender.send(&message).await {
            Ok(receipt) => {
                tracing::info!(outcome = "invitation_sent", tenant = %invitation.tenant, provider_message_id = %receipt.provider_message_id, "invitation emailed");
                true
            }
            Err(error) => {
                tracing::warn!(outcome = "invitation_not_sent", tenant = %invitation.tenant, error = %error, "invitation email not sent");
                false
            }
        }
    }

    /// The operator invites an address to sign up while sign-up is invite-only (decision
    /// 169): an invitation to the console tenant, which nobody else can make and nobody
    /// becomes a member of. Not counted, like the operator's owner restore.
    pub async fn invite_to_sign_up(
        &self,
        operator: &Actor,
        email: &str,
    ) -> Result<Invited, AuthError> {
        let email = Email::parse(email)?;
        let console = self.stored_tenant(CONSOLE_TENANT).await?;
        self.invite(
            operator,
            console,
            email,
            Role::Owner,
            InvitationPurpose::SignUp,
        )
        .await
    }

    /// The operator's sign-up invitations still pending, by id.
    pub async fn list_signup_invitations(&self) -> Result<Vec<Invitation>, AuthError> {
        self.list_invitations(&Self::console_id()).await
    }

    /// Revokes a sign-up invitation: the address no longer may sign up while sign-up is
    /// invite-only (tenants it already made stay).
    pub async fn revoke_signup_invitation(
        &self,
        operator: &Actor,
        id: &str,
    ) -> Result<(), AuthError> {
        self.revoke_invitation(operator, &Self::console_id(), id)
            .await
    }

    /// Counts an invitation email against the deployment's bounds (decision 162): a day,
    /// per mailbox from every tenant together (sub-addresses folded), and per inviting
    /// tenant; 429 `rate_limited` past them, before anything is stored. Both counters are
    /// admitted together or not at all.
    async fn admit_invitation(
        &self,
        tenant: &TenantId,
        email: &Email,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let mailbox = Identifier::Email(email.mailbox());
        let deployment = Self::console_id();
        let pepper = self.keys.current().pepper.clone();
        let count = |limit: Limit, subject: Subject<'_>| {
            limit.counted(Action::Invite, subject, now, &pepper, self.random.as_ref())
        };
        let tier: Vec<CountedLimit> = [
            count(
                INVITATIONS_PER_MAILBOX,
                Subject {
                    tenant: &deployment,
                    ip: None,
                    identifier: Some(&mailbox),
                    device: None,
                },
            ),
            count(
                INVITATIONS_PER_TENANT,
                Subject {
                    tenant,
                    ip: None,
                    identifier: None,
                    device: None,
                },
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.admit_tier(tenant, &tier, now).await
    }

    /// An operator's way back for a tenant whose owners are gone: an owner invitation,
    /// audited as the operator's (decision 132).
    pub async fn restore_owner(
        &self,
        operator: &Actor,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Invited, AuthError> {
        // Not counted against the day's invitations: a tenant's members could otherwise
        // spend them to block the operator's way back (outside attack, session 17).
        let email = Email::parse(email)?;
        let inviting = self.inviting_tenant(tenant).await?;
        self.invite(
            operator,
            inviting,
            email,
            Role::Owner,
            InvitationPurpose::Membership,
        )
        .await
    }

    /// Accepts every pending invitation of the console user's address; a role already
    /// held is never lowered by accepting. Answers the user's memberships afterwards.
    pub async fn accept_invitations(&self, user: &UserId) -> Result<Vec<Membership>, AuthError> {
        let console = Self::console_id();
        let account = self
            .stores
            .users
            .get(&console, user)
            .await?
            .ok_or(AuthError::InvalidAccessToken)?;
        let email = match &account.identifier {
            crate::identifier::Identifier::Email(email) => email.clone(),
            crate::identifier::Identifier::Phone(_) => return self.memberships(user).await,
        };
        let hash = self.invitation_hash(&email);
        let now = self.now();
        let to_tenants = self
            .stores
            .members
            .invitations_for(&hash, now)
            .await?
            .into_iter()
            // An invitation to the console is one to sign up (decision 169), not a role.
            .filter(|invitation| invitation.tenant.as_str() != CONSOLE_TENANT);
        for invitation in to_tenants {
            let current = self.stores.members.member(&invitation.tenant, user).await?;
            let role = current
                .as_ref()
                .map_or(invitation.role, |held| held.role.max(invitation.role));
            let next = Membership {
                tenant: invitation.tenant.clone(),
                user: user.clone(),
                email: email.as_str().to_owned(),
                role,
                created_at: current.as_ref().map_or(now, |held| held.created_at),
                updated_at: now,
            };
            let change = MemberChange {
                tenant: invitation.tenant.clone(),
                user: user.clone(),
                expected: current.map(|held| held.role),
                next: Some(next),
                accepting: Some(hash),
                cancelling: None,
                event: self.member_event(
                    &invitation.tenant,
                    EventKind::MemberRoleSet,
                    &Actor::Member(user.clone()),
                    user,
                    Some(role),
                ),
            };
            // A concurrent acceptance already consumed it: nothing more to do.
            self.stores.members.change_member(&change).await?;
        }
        self.memberships(user).await
    }

    /// Changes a member's role. Demoting the last owner is refused (409 `last_owner`).
    pub async fn set_member_role(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        user: &str,
        role: Role,
    ) -> Result<Membership, AuthError> {
        let user = UserId::parse(user).map_err(|_| AuthError::MemberNotFound)?;
        self.change_read_member(tenant, &user, |current| {
            (current.role != role).then(|| MemberChange {
                tenant: tenant.clone(),
                user: user.clone(),
                expected: Some(current.role),
                next: Some(Membership {
                    role,
                    updated_at: self.now(),
                    ..current.clone()
                }),
                accepting: None,
                cancelling: None,
                event: self.member_event(
                    tenant,
                    EventKind::MemberRoleSet,
                    actor,
                    &user,
                    Some(role),
                ),
            })
        })
        .await
    }

    /// Removes a member. Removing the last owner is refused (409 `last_owner`).
    pub async fn remove_member(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        user: &str,
    ) -> Result<(), AuthError> {
        let user = UserId::parse(user).map_err(|_| AuthError::MemberNotFound)?;
        self.change_read_member(tenant, &user, |current| {
            Some(MemberChange {
                tenant: tenant.clone(),
                user: user.clone(),
                expected: Some(current.role),
                next: None,
                accepting: None,
                cancelling: Email::parse(&current.email)
                    .ok()
                    .map(|email| self.invitation_hash(&email)),
                event: self.member_event(tenant, EventKind::MemberRemoved, actor, &user, None),
            })
        })
        .await?;
        Ok(())
    }

    /// The console user leaves a tenant (removes their own membership). The last owner
    /// cannot leave (409 `last_owner`); a tenant they are not on answers 404, like one
    /// that does not exist.
    pub async fn leave_tenant(&self, user: &UserId, tenant: &str) -> Result<(), AuthError> {
        let tenant = TenantId::parse(tenant).map_err(|_| AuthError::TenantNotFound)?;
        match self
            .remove_member(&Actor::Member(user.clone()), &tenant, user.as_str())
            .await
        {
            Err(AuthError::MemberNotFound) => Err(AuthError::TenantNotFound),
            other => other,
        }
    }

    /// Refuses the erasure of a console user who is still a member of a tenant that has
    /// not been deleted (409 `still_a_member`, decision 160): they leave, or its owners
    /// remove them, first.
    pub(super) async fn ensure_member_of_nothing(&self, user: &UserId) -> Result<(), AuthError> {
        for held in self.memberships(user).await? {
            match self.stored_tenant(held.tenant.as_str()).await {
                Ok(_) => return Err(AuthError::StillAMember),
                Err(AuthError::TenantNotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Reads a member, makes the change from what it read (none: nothing to do) and writes
    /// it conditioned on the role read; a member changed in between is read again. The
    /// member as it stands after.
    async fn change_read_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
        change_for: impl Fn(&Membership) -> Option<MemberChange>,
    ) -> Result<Membership, AuthError> {
        for _ in 0..3 {
            let current = self
                .stores
                .members
                .member(tenant, user)
                .await?
                .ok_or(AuthError::MemberNotFound)?;
            let Some(change) = change_for(&current) else {
                return Ok(current);
            };
            match self.stores.members.change_member(&change).await? {
                MemberWritten::Done => return Ok(change.next.unwrap_or(current)),
                MemberWritten::LastOwner => return Err(AuthError::LastOwner),
                MemberWritten::Stale => continue,
            }
        }
        Err(AuthError::ConcurrentUpdate)
    }

    pub(super) fn invitation_hash(&self, email: &Email) -> SecretHash {
        self.keys
            .current()
            .pepper
            .hash(INVITATION_CONTEXT, email.matching_key().as_bytes())
    }

    /// An invitation's event: who, the role, the address masked.
    fn invitation_event(
        &self,
        kind: EventKind,
        actor: &Actor,
        invitation: &Invitation,
    ) -> crate::event::Event {
        let detail = format!("{} role={}", actor.describe(), invitation.role.as_str());
        let mut event = self.admin_event(&invitation.tenant, kind, detail);
        event.identifier = Some(invitation.email_masked.clone());
        event
    }

    pub(super) fn member_event(
        &self,
        tenant: &TenantId,
        kind: EventKind,
        actor: &Actor,
        member: &UserId,
        role: Option<Role>,
    ) -> crate::event::Event {
        let detail = match role {
            Some(role) => format!("{} role={}", actor.describe(), role.as_str()),
            None => actor.describe(),
        };
        let mut event = self.admin_event(tenant, kind, detail);
        event.user_id = Some(member.clone());
        event
    }
}
