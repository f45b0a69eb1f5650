//! Self-service sign-up (decisions 135-139, 150-155): a team gets a tenant without an
//! operator. The owner signs in to the console tenant by AuthKit's own email-code path (the
//! same limits, decoys and answers as any sign-in), then, with that console sign-in,
//! creates the tenant: it is written with the user as its owner in one step, and a retry
//! of the creation answers the tenant it made.

use super::sessions::SignedIn;
use super::sign_in::{RequestedKind, StartRequest, StartedChallenge};
use super::tenant_admin::{fingerprint, Actor, Creating, IdempotencyKey};
use super::{AuthKit, Caller, CreatedTenant};
use crate::challenge::ResponseMode;
use crate::error::AuthError;
use crate::event::EventKind;
use crate::identifier::{Channel, Email, Identifier};
use crate::member::{Membership, Role, CONSOLE_TENANT};
use crate::rate_limit::{Action, Limit, Scope};
use crate::registry::{FirstOwner, IdempotencyRecord, IdempotencyScope, Written};
use crate::tenant::settings::is_display_name;
use crate::tenant::{Tenant, TenantId, TenantPolicy, TenantSettings};
use crate::user::UserId;

/// Who may create a tenant by sign-up: the operator's `AUTHKIT_SIGNUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupMode {
    /// Anyone who proves an email address.
    Open,
    /// Only an address holding the operator's pending sign-up invitation.
    InviteOnly,
    /// Nobody: tenants come from the operator API.
    Off,
}

impl SignupMode {
    pub fn parse(raw: &str) -> Option<SignupMode> {
        match raw {
            "open" => Some(SignupMode::Open),
            "invite_only" => Some(SignupMode::InviteOnly),
            "off" => Some(SignupMode::Off),
            _ => None,
        }
    }
}

/// The longest slug taken from a project name, leaving room for a unique suffix.
const SLUG_MAX_LEN: usize = 30;

/// The project name, trimmed: it becomes the tenant's display name, so the same rules.
fn project_name(raw: &str) -> Result<String, AuthError> {
    if !is_display_name(raw) {
        return Err(AuthError::InvalidRequest(
            "project_name: 1-100 characters, no control, invisible or text-direction characters",
        ));
    }
    Ok(raw.trim().to_owned())
}

/// What a tenant made by sign-up starts with (decision 164): email only, and a tenant-wide
/// start budget of 200 an hour instead of 20,000, until the operator reviews it. Anyone
/// can have one, so its sending is the deployment's risk, not only its own.
fn self_service_settings(name: String) -> TenantSettings {
    let mut policy = TenantPolicy::default();
    for limit in &mut policy.rate_limits.start {
        if limit.scope == Scope::Tenant {
            limit.max = SELF_SERVICE_STARTS_PER_HOUR;
        }
    }
    TenantSettings {
        enabled_channels: vec![Channel::Email],
        ..TenantSettings::new(name, Vec::new(), policy)
    }
}

/// A self-service tenant's starts an hour, all its users together.
const SELF_SERVICE_STARTS_PER_HOUR: u32 = 200;

/// The tenant id a project name asks for: lowercase ASCII letters and digits, other runs
/// as one `-`; `project` when too little is left.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= SLUG_MAX_LEN {
            break;
        }
    }
    let slug = slug.trim_matches('-');
    if slug.len() < 3 {
        "project".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The console tenant's sign-up limits as a new console tenant starts with them: they
/// count tenant creations by sign-up (each already needs a proved address), per console
/// user's address, per IP and for the whole deployment. The operator changes them like any
/// tenant's (`PATCH /admin/v1/tenants/console`, `rate_limits.sign_up`).
pub(super) fn console_policy() -> TenantPolicy {
    const HOUR: u32 = 3600;
    const DAY: u32 = 24 * HOUR;
    let mut policy = TenantPolicy::default();
    policy.rate_limits.sign_up = vec![
        Limit {
            scope: Scope::Identifier,
            max: 5,
            window_secs: DAY,
        },
        Limit {
            scope: Scope::Ip,
            max: 20,
            window_secs: HOUR,
        },
        Limit {
            scope: Scope::Tenant,
            max: 1_000,
            window_secs: DAY,
        },
    ];
    policy
}

impl AuthKit {
    /// Starts a sign-up: a console email-code sign-in for the address, by the sign-in
    /// path itself. Answers the same whatever the address (invited or not, with an
    /// account or not): invitations are judged once the address is proved.
    pub async fn start_signup(
        &self,
        ip: Option<&str>,
        email: &str,
        project: &str,
    ) -> Result<StartedChallenge, AuthError> {
        self.signup_allowed()?;
        project_name(project)?;
        let console = self.tenant(CONSOLE_TENANT).await?;
        let request = StartRequest {
            identifier: email,
            channel: Some(Channel::Email),
            kind: RequestedKind::Code,
            redirect_uri: None,
            code_challenge: None,
            response_mode: ResponseMode::default(),
        };
        self.start_sign_in(
            Caller {
                tenant: &console,
                ip,
            },
            request,
        )
        .await
    }

    /// Verifies the sign-up's code (counted before judged, as every sign-in): the console
    /// sign-in, and nothing else. The tenant comes from [`AuthKit::create_signup_tenant`]
    /// with its access token, served where the registry may be written (decision 150).
    pub async fn verify_signup(
        &self,
        ip: Option<&str>,
        challenge_id: &str,
        code: &str,
    ) -> Result<SignedIn, AuthError> {
        self.signup_allowed()?;
        let console = self.tenant(CONSOLE_TENANT).await?;
        let caller = Caller {
            tenant: &console,
            ip,
        };
        self.sign_in_with_answer(caller, challenge_id, code).await
    }

    /// Creates a tenant for a signed-in console user, who becomes its owner in the same
    /// write. Invite-only is judged here, after the proof (decision 137); creations are
    /// counted by the console tenant's sign-up limits. Retried with the same idempotency
    /// key (none given: the same project name) within 24 hours, it answers the tenant the
    /// first call created, with the same keys, and creates nothing (decision 152).
    pub async fn create_signup_tenant(
        &self,
        user: &UserId,
        ip: Option<&str>,
        project: &str,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreatedTenant, AuthError> {
        self.signup_allowed()?;
        let name = project_name(project)?;
        let console = self.tenant(CONSOLE_TENANT).await?;
        let email = self.console_email(&console.id, user).await?;
        let implied = IdempotencyKey::implied(format!("project_name:{name}"));
        let key = idempotency.unwrap_or(&implied);
        let scope = IdempotencyScope::Signup(user.clone());
        let fingerprint = fingerprint(&["signup_tenant", &name]);
        let (seed, record) = match self.creating(&scope, Some(key), &fingerprint).await? {
            Creating::Replay(record) => return self.replay_to_owner(user, &record).await,
            Creating::Fresh { seed, record } => (seed, record),
        };
        if self.settings.signup == SignupMode::InviteOnly {
            // The caller has proved the address: telling them it holds no invitation
            // reveals nothing about anyone else's.
            let hash = self.invitation_hash(&email);
            let pending = self
                .stores
                .members
                .invitations_for(&hash, self.now())
                .await?;
            // Only the operator's sign-up invitation counts (decision 169): an invitation
            // to some tenant is to that tenant, and would let every tenant open sign-up.
            if !pending
                .iter()
                .any(|invitation| invitation.tenant.as_str() == CONSOLE_TENANT)
            {
                return Err(AuthError::SignupNotInvited);
            }
        }
        let caller = Caller {
            tenant: &console,
            ip,
        };
        self.admit(
            Action::SignUp,
            caller,
            &Identifier::Email(email.clone()),
            async {},
        )
        .await?;
        let owner = Actor::Member(user.clone());
        let settings = self_service_settings(name.clone());
        let base = slug(&name);
        for attempt in 0..4 {
            // Tenant ids are never given out twice: a taken one gets a random suffix.
            let candidate = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{:06x}", self.random.below(1 << 24))
            };
            let Ok(id) = TenantId::parse(&candidate) else {
                continue;
            };
            let first = self.first_owner(&id, user, &email);
            let tenant = Tenant {
                self_service: true,
                ..Tenant::new(id, settings.clone(), self.now())
            };
            match self
                .write_tenant(&owner, tenant, &seed, record.clone(), Some(first))
                .await?
            {
                Ok(created) => return Ok(created),
                Err(Written::Conflict) => continue,
                Err(_) => {
                    // A concurrent retry of this request created it: answer as it did.
                    return match self.creating(&scope, Some(key), &fingerprint).await? {
                        Creating::Replay(record) => self.replay_to_owner(user, &record).await,
                        Creating::Fresh { .. } => Err(AuthError::ConcurrentUpdate),
                    };
                }
            }
        }
        Err(AuthError::ConcurrentUpdate)
    }

    /// A retry's answer, while the console user still owns the tenant: someone removed or
    /// demoted since must not get its keys back from the record (decision 152).
    async fn replay_to_owner(
        &self,
        user: &UserId,
        record: &IdempotencyRecord,
    ) -> Result<CreatedTenant, AuthError> {
        let created = self.replay_tenant(record).await?;
        let held = self.stores.members.member(&created.tenant.id, user).await?;
        match held {
            Some(membership) if membership.role == Role::Owner => Ok(created),
            _ => Err(AuthError::TenantNotFound),
        }
    }

    fn signup_allowed(&self) -> Result<(), AuthError> {
        match self.settings.signup {
            SignupMode::Off => Err(AuthError::SignupDisabled),
            SignupMode::Open | SignupMode::InviteOnly => Ok(()),
        }
    }

    /// The console user's address: sign-up is by email address.
    async fn console_email(&self, console: &TenantId, user: &UserId) -> Result<Email, AuthError> {
        let account = self
            .stores
            .users
            .get(console, user)
            .await?
            .ok_or(AuthError::InvalidAccessToken)?;
        match account.identifier {
            Identifier::Email(email) => Ok(email),
            Identifier::Phone(_) => Err(AuthError::InvalidRequest("sign-up is by email address")),
        }
    }

    /// The owner a signed-up tenant is written with, and the event naming them.
    fn first_owner(&self, tenant: &TenantId, user: &UserId, email: &Email) -> FirstOwner {
        let now = self.now();
        FirstOwner {
            membership: Membership {
                tenant: tenant.clone(),
                user: user.clone(),
                email: email.as_str().to_owned(),
                role: Role::Owner,
                created_at: now,
                updated_at: now,
            },
            event: self.member_event(
                tenant,
                EventKind::MemberRoleSet,
                &Actor::Member(user.clone()),
                user,
                Some(Role::Owner),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_become_tenant_ids() {
        assert_eq!(slug("Acme Shop!"), "acme-shop");
        assert_eq!(slug("  --Ünïcode__Times  "), "n-code-times");
        assert_eq!(slug("é"), "project");
        assert!(slug(&"x".repeat(200)).len() <= SLUG_MAX_LEN);
        assert!(TenantId::parse(&slug("A b")).is_ok());
    }

    #[test]
    fn project_names_are_bounded() {
        assert!(project_name("").is_err());
        assert!(project_name("   ").is_err());
        assert!(project_name(&"a".repeat(101)).is_err());
        assert!(project_name("a\u{0}b").is_err());
        assert!(project_name("Pay\u{202e}moc.live").is_err());
        assert_eq!(project_name("  Acme  ").unwrap(), "Acme");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(SignupMode::parse("open"), Some(SignupMode::Open));
        assert_eq!(
            SignupMode::parse("invite_only"),
            Some(SignupMode::InviteOnly)
        );
        assert_eq!(SignupMode::parse("off"), Some(SignupMode::Off));
        assert_eq!(SignupMode::parse("Open"), None);
    }
}
