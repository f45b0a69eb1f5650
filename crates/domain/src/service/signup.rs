//! Self-service sign-up (decisions 135-139): a team gets a tenant without an operator.
//! The owner signs in to the console tenant by AuthKit's own email-code path (the same
//! limits, decoys and answers as any sign-in), and the verified sign-in creates the tenant
//! with that user as its owner.

use super::sessions::SignedIn;
use super::sign_in::{RequestedKind, StartRequest, StartedChallenge};
use super::tenant_admin::Actor;
use super::{AuthKit, Caller, CreatedTenant};
use crate::challenge::ResponseMode;
use crate::error::AuthError;
use crate::event::EventKind;
use crate::identifier::{Channel, Identifier};
use crate::member::{MemberChange, MemberWritten, Membership, Role, CONSOLE_TENANT};
use crate::tenant::{TenantId, TenantPolicy, TenantSettings};

/// Who may create a tenant by sign-up: the operator's `AUTHKIT_SIGNUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupMode {
    /// Anyone who proves an email address.
    Open,
    /// Only an address holding a pending invitation (to any tenant, or an operator's).
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

/// The longest project name, in characters (it becomes the tenant's display name).
pub const PROJECT_NAME_MAX_CHARS: usize = 100;
/// The longest slug taken from a project name, leaving room for a unique suffix.
const SLUG_MAX_LEN: usize = 30;

/// A tenant created by sign-up, and its owner's console sign-in.
pub struct SignedUp {
    pub created: CreatedTenant,
    pub signed_in: SignedIn,
}

/// The project name, trimmed: 1-100 characters, none of them control characters.
fn project_name(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > PROJECT_NAME_MAX_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AuthError::InvalidRequest(
            "project_name: 1-100 characters, no control characters",
        ));
    }
    Ok(name.to_owned())
}

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

    /// Verifies the sign-up's code (counted before judged, as every sign-in) and creates
    /// the tenant with the verified user as its owner.
    pub async fn verify_signup(
        &self,
        ip: Option<&str>,
        challenge_id: &str,
        code: &str,
        project: &str,
    ) -> Result<SignedUp, AuthError> {
        self.signup_allowed()?;
        let name = project_name(project)?;
        let console = self.tenant(CONSOLE_TENANT).await?;
        let caller = Caller {
            tenant: &console,
            ip,
        };
        let signed_in = self.sign_in_with_answer(caller, challenge_id, code).await?;
        let account = self
            .stores
            .users
            .get(&console.id, &signed_in.user_id)
            .await?
            .ok_or(AuthError::InvalidAccessToken)?;
        let Identifier::Email(email) = &account.identifier else {
            return Err(AuthError::InvalidRequest("sign-up is by email address"));
        };
        if self.settings.signup == SignupMode::InviteOnly {
            // The caller has just proved the address: telling them it holds no invitation
            // reveals nothing about anyone else's.
            let hash = self.invitation_hash(email);
            let pending = self
                .stores
                .members
                .invitations_for(&hash, self.now())
                .await?;
            if pending.is_empty() {
                return Err(AuthError::SignupNotInvited);
            }
        }
        let owner = Actor::Member(signed_in.user_id.clone());
        let created = self.create_signed_up_tenant(&owner, &name).await?;
        let now = self.now();
        let membership = Membership {
            tenant: created.tenant.id.clone(),
            user: signed_in.user_id.clone(),
            email: email.as_str().to_owned(),
            role: Role::Owner,
            created_at: now,
            updated_at: now,
        };
        let change = MemberChange {
            tenant: created.tenant.id.clone(),
            user: signed_in.user_id.clone(),
            expected: None,
            next: Some(membership),
            accepting: None,
            cancelling: None,
            event: self.member_event(
                &created.tenant.id,
                EventKind::MemberRoleSet,
                &owner,
                &signed_in.user_id,
                Some(Role::Owner),
            ),
        };
        match self.stores.members.change_member(&change).await? {
            MemberWritten::Done => Ok(SignedUp { created, signed_in }),
            // A fresh tenant has no members: anything else is a store out of step.
            _ => Err(AuthError::ConcurrentUpdate),
        }
    }

    fn signup_allowed(&self) -> Result<(), AuthError> {
        match self.settings.signup {
            SignupMode::Off => Err(AuthError::SignupDisabled),
            SignupMode::Open | SignupMode::InviteOnly => Ok(()),
        }
    }

    /// Creates the tenant under the project name's slug, or the slug with a random
    /// suffix when that id is taken (tenant ids are never given out twice).
    async fn create_signed_up_tenant(
        &self,
        owner: &Actor,
        name: &str,
    ) -> Result<CreatedTenant, AuthError> {
        let base = slug(name);
        let settings = TenantSettings::new(name.to_owned(), Vec::new(), TenantPolicy::default());
        for attempt in 0..4 {
            let candidate = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{:06x}", self.random.below(1 << 24))
            };
            let Ok(id) = TenantId::parse(&candidate) else {
                continue;
            };
            match self
                .create_tenant_as(owner, id, settings.clone(), None)
                .await
            {
                Err(AuthError::TenantExists) => continue,
                other => return other,
            }
        }
        Err(AuthError::ConcurrentUpdate)
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
