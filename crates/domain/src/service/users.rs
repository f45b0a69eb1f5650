//! A tenant's users, as its servers manage them with the secret key: finding one by
//! identifier, reading one, disabling and enabling, and their devices and sessions. Every
//! lookup is within the caller's tenant: another tenant's user id is "not found", never
//! data.

use super::{AuthKit, Caller};
use crate::device::Device;
use crate::error::AuthError;
use crate::event::{EventKind, Outcome};
use crate::identifier::Identifier;
use crate::store::{Applied, Change, Write};
use crate::token::RefreshFamily;
use crate::user::{User, UserId};

impl AuthKit {
    /// The user an identifier names (matched case-folded, as sign-in matches it).
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn find_user(&self, caller: Caller<'_>, identifier: &str) -> Result<User, AuthError> {
        let identifier = Identifier::parse(identifier, caller.tenant.policy.default_region)?;
        self.stores
            .users
            .find(&caller.tenant.id, &identifier)
            .await?
            .ok_or(AuthError::UserNotFound)
    }

    /// One of the tenant's users. A malformed id is "not found" like an unknown one.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn user(&self, caller: Caller<'_>, id: &str) -> Result<User, AuthError> {
        let id = UserId::parse(id).map_err(|_| AuthError::UserNotFound)?;
        self.stores
            .users
            .get(&caller.tenant.id, &id)
            .await?
            .ok_or(AuthError::UserNotFound)
    }

    /// Disables a user and revokes their sessions. The flag is written first, so a sign-in
    /// racing this either finished before (its session is then listed and revoked) or is
    /// refused by its condition on the flag (decision 89).
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn disable_user(&self, caller: Caller<'_>, id: &str) -> Result<User, AuthError> {
        let mut user = self.user(caller, id).await?;
        if !user.is_disabled() {
            let at = self.now();
            self.set_disabled(caller, &user, Some(at), EventKind::UserDisabled)
                .await?;
            user.disabled_at = Some(at);
        }
        self.revoke_sessions_of(caller, &user.id).await?;
        Ok(user)
    }

    /// Lets a disabled user sign in again (their revoked sessions stay revoked).
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn enable_user(&self, caller: Caller<'_>, id: &str) -> Result<User, AuthError> {
        let mut user = self.user(caller, id).await?;
        if user.is_disabled() {
            self.set_disabled(caller, &user, None, EventKind::UserEnabled)
                .await?;
            user.disabled_at = None;
        }
        Ok(user)
    }

    async fn set_disabled(
        &self,
        caller: Caller<'_>,
        user: &User,
        disabled_at: Option<crate::clock::Timestamp>,
        kind: EventKind,
    ) -> Result<(), AuthError> {
        let mut event = self.event(caller.tenant, kind, Outcome::Success);
        event.user_id = Some(user.id.clone());
        event.ip = caller.ip.map(str::to_owned);
        let change = Change {
            writes: vec![Write::SetUserDisabled {
                user: user.clone(),
                disabled_at,
            }],
            events: vec![event],
        };
        match self.apply(change).await? {
            Applied::Done => Ok(()),
            // Erased in between.
            Applied::Refused(_) => Err(AuthError::UserNotFound),
        }
    }

    /// A user's devices, revoked ones included, oldest first.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn user_devices(
        &self,
        caller: Caller<'_>,
        id: &str,
    ) -> Result<Vec<Device>, AuthError> {
        let user = self.user(caller, id).await?;
        Ok(self
            .stores
            .devices
            .list(&caller.tenant.id, &user.id)
            .await?)
    }

    /// A user's sessions that have not expired, revoked ones included, oldest first.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn user_sessions(
        &self,
        caller: Caller<'_>,
        id: &str,
    ) -> Result<Vec<RefreshFamily>, AuthError> {
        let user = self.user(caller, id).await?;
        Ok(self
            .stores
            .sessions
            .list(&caller.tenant.id, &user.id, self.now())
            .await?)
    }

    /// Revokes every live session of a user: how many were revoked.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn revoke_user_sessions(
        &self,
        caller: Caller<'_>,
        id: &str,
    ) -> Result<usize, AuthError> {
        let user = self.user(caller, id).await?;
        self.revoke_sessions_of(caller, &user.id).await
    }

    /// Revokes each of the user's sessions not yet revoked, each with its event, in
    /// parallel (one small change each: a user holds few sessions, and a transaction would
    /// be cancelled by any one of them expiring in between).
    async fn revoke_sessions_of(
        &self,
        caller: Caller<'_>,
        user: &UserId,
    ) -> Result<usize, AuthError> {
        let now = self.now();
        let live: Vec<RefreshFamily> = self
            .stores
            .sessions
            .list(&caller.tenant.id, user, now)
            .await?
            .into_iter()
            .filter(|family| family.revoked_at.is_none())
            .collect();
        let revocations = live.iter().map(|family| {
            let mut revoked =
                self.session_event(caller, family, EventKind::SessionRevoked, Outcome::Success);
            revoked.detail = Some(format!("session={} by=tenant", family.id.redacted()));
            self.revoke_family(family, revoked, now)
        });
        futures::future::try_join_all(revocations).await?;
        Ok(live.len())
    }
}
