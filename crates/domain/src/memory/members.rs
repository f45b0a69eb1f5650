//! The embedded store's memberships and invitations, each change under the store's one
//! lock (the DynamoDB store: one transaction with the owner count's condition).

use async_trait::async_trait;

use super::tenant_registry::page;
use super::MemoryStore;
use crate::clock::Timestamp;
use crate::event::Event;
use crate::member::{Invitation, MemberChange, MemberRegistry, MemberWritten, Membership, Role};
use crate::registry::Page;
use crate::secret::SecretHash;
use crate::store::StoreError;
use crate::tenant::TenantId;
use crate::user::UserId;

impl MemoryStore {
    /// The unexpired invitations `wanted` picks.
    fn pending_invitations(
        &self,
        now: Timestamp,
        wanted: impl Fn(&Invitation) -> bool,
    ) -> Vec<Invitation> {
        self.lock()
            .invitations
            .values()
            .filter(|invitation| now < invitation.expires_at && wanted(invitation))
            .cloned()
            .collect()
    }
}

#[async_trait]
impl MemberRegistry for MemoryStore {
    async fn member(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Option<Membership>, StoreError> {
        Ok(self
            .lock()
            .members
            .get(&(tenant.clone(), user.clone()))
            .cloned())
    }

    async fn list_members(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Page<Membership>, StoreError> {
        let tables = self.lock();
        let listed = tables
            .members
            .iter()
            .filter(|((of, user), _)| of == tenant && after.is_none_or(|after| user > after))
            .map(|(_, membership)| membership.clone());
        Ok(page(listed, limit))
    }

    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        Ok(self
            .lock()
            .members
            .values()
            .filter(|membership| &membership.user == user)
            .cloned()
            .collect())
    }

    async fn change_member(&self, change: &MemberChange) -> Result<MemberWritten, StoreError> {
        let now = self.now();
        let mut tables = self.lock();
        let key = (change.tenant.clone(), change.user.clone());
        let current = tables.members.get(&key).map(|membership| membership.role);
        let invitation = change
            .accepting
            .map(|hash| (hash, change.tenant.clone()))
            .filter(|key| {
                tables
                    .invitations
                    .get(key)
                    .is_some_and(|invitation| now < invitation.expires_at)
            });
        if current != change.expected || change.accepting.is_some() != invitation.is_some() {
            return Ok(MemberWritten::Stale);
        }
        if change.loses_owner() {
            let owners = tables
                .members
                .iter()
                .filter(|((tenant, _), m)| tenant == &change.tenant && m.role == Role::Owner)
                .count();
            if owners <= 1 {
                return Ok(MemberWritten::LastOwner);
            }
        }
        match &change.next {
            Some(next) => tables.members.insert(key, next.clone()),
            None => tables.members.remove(&key),
        };
        if let Some(invitation) = invitation {
            tables.invitations.remove(&invitation);
        }
        if let Some(hash) = change.cancelling {
            tables.invitations.remove(&(hash, change.tenant.clone()));
        }
        tables.outbox.push_back(change.event.clone());
        Ok(MemberWritten::Done)
    }

    async fn put_invitation(
        &self,
        invitation: &Invitation,
        event: &Event,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        tables.invitations.insert(
            (invitation.email_hash, invitation.tenant.clone()),
            invitation.clone(),
        );
        tables.outbox.push_back(event.clone());
        Ok(())
    }

    async fn invitations_for(
        &self,
        email_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError> {
        let mut found = self.pending_invitations(now, |i| &i.email_hash == email_hash);
        found.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        Ok(found)
    }

    async fn tenant_invitations(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError> {
        // In no particular order: the service orders them by id.
        Ok(self.pending_invitations(now, |i| &i.tenant == tenant))
    }

    async fn revoke_invitation(
        &self,
        tenant: &TenantId,
        email_hash: &SecretHash,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let revoked = tables
            .invitations
            .remove(&(*email_hash, tenant.clone()))
            .is_some();
        if revoked {
            tables.outbox.push_back(event.clone());
        }
        Ok(revoked)
    }
}
