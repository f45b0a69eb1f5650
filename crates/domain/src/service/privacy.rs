//! A user's data protection rights, as the tenant exercises them for the user: export
//! everything AuthKit holds about them, and erase them. Erasure deletes the user, their
//! identifier, devices and sessions, and records a `user_erased` event; the audit log, a
//! consumer of that event, pseudonymises their entries instead of deleting them
//! (docs/privacy.md, decision 91).

use super::{AuthKit, Caller};
use crate::audit::{erasure_detail, AuditQuery, AUDIT_RETENTION_SECS};
use crate::device::Device;
use crate::error::AuthError;
use crate::event::{Event, EventKind, Outcome};
use crate::member::{Membership, CONSOLE_TENANT};
use crate::store::{Applied, Change, Write};
use crate::token::RefreshFamily;
use crate::user::{User, UserId};

/// Audit entries read per page while collecting a user's.
const EXPORT_PAGE: usize = 500;

/// Everything AuthKit holds about one user.
#[derive(Debug, Clone)]
pub struct UserExport {
    pub exported_at: crate::clock::Timestamp,
    pub user: User,
    pub devices: Vec<Device>,
    pub sessions: Vec<RefreshFamily>,
    /// Their audit entries, newest first (identifiers masked, as the log keeps them).
    pub audit_events: Vec<Event>,
    /// A console user's roles on tenants (empty for every other tenant's users).
    pub memberships: Vec<Membership>,
}

impl AuthKit {
    /// Everything held about a user, in one read of each store.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn export_user(&self, caller: Caller<'_>, id: &str) -> Result<UserExport, AuthError> {
        let user = self.user(caller, id).await?;
        let tenant = &caller.tenant.id;
        let now = self.now();
        let (devices, sessions) = futures::try_join!(
            self.stores.devices.list(tenant, &user.id),
            self.stores.sessions.list(tenant, &user.id, now),
        )?;
        let from = user.created_at.max(now.plus_secs(-AUDIT_RETENTION_SECS));
        let mut query = AuditQuery::between(from, now, EXPORT_PAGE);
        query.user = Some(user.id.clone());
        let mut audit_events = Vec::new();
        loop {
            let page = self.stores.audit.query(tenant, &query, now).await?;
            query.starting_after = page.entries.last().map(|(position, _)| position.clone());
            audit_events.extend(page.entries.into_iter().map(|(_, event)| event));
            if !page.has_more {
                break;
            }
        }
        let memberships = if caller.tenant.id.as_str() == CONSOLE_TENANT {
            self.memberships(&user.id).await?
        } else {
            Vec::new()
        };
        Ok(UserExport {
            memberships,
            exported_at: now,
            user,
            devices,
            sessions,
            audit_events,
        })
    }

    /// Erases a user (a console user only once they are a member of no tenant): pending
    /// challenges, devices and sessions first (idempotent, so a retry after a failure
    /// completes the erasure), then the user with the `user_erased` event in one change.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn erase_user(&self, caller: Caller<'_>, id: &str) -> Result<(), AuthError> {
        let user = self.user(caller, id).await?;
        if caller.tenant.id.as_str() == CONSOLE_TENANT {
            self.ensure_member_of_nothing(&user.id).await?;
        }
        self.stores
            .challenges
            .erase_owned(
                &caller.tenant.id,
                &super::identifiers::challenge_owners(&user),
            )
            .await?;
        self.stores
            .users
            .erase_belongings(&caller.tenant.id, &user.id)
            .await?;
        let pseudonym = UserId::generate(self.random.as_ref());
        let mut erased = self.event(caller.tenant, EventKind::UserErased, Outcome::Success);
        erased.user_id = Some(user.id.clone());
        erased.detail = Some(erasure_detail(&pseudonym, user.created_at));
        let change = Change {
            writes: vec![Write::DeleteUser(user)],
            events: vec![erased],
        };
        match self.apply(change).await? {
            Applied::Done => Ok(()),
            // Erased in parallel.
            Applied::Refused(_) => Err(AuthError::UserNotFound),
        }
    }
}
