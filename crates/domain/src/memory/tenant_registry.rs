//! The embedded store's tenant registry: every change under the store's one lock, so each
//! is atomic the way the DynamoDB store's transactions are.

use async_trait::async_trait;

use super::{MemoryStore, Tables};
use crate::clock::Timestamp;
use crate::event::Event;
use crate::registry::{
    IdempotencyRecord, IdempotencyScope, KeyCreation, Page, TenantCreation, TenantRegistry,
    Written, KEY_USE_INTERVAL_SECS,
};
use crate::store::StoreError;
use crate::tenant::{ApiKeyEntry, ApiKeyId, Tenant, TenantId, TenantStatus};

impl Tables {
    pub(super) fn keys_purged(&self, tenant: &TenantId, now: Timestamp) -> bool {
        self.keys_purged_at
            .get(tenant)
            .is_some_and(|purge_at| now >= *purge_at)
    }

    fn idempotency_taken(&self, record: Option<&IdempotencyRecord>, now: Timestamp) -> bool {
        record.is_some_and(|record| {
            self.idempotency
                .get(&(record.scope.clone(), record.key_digest.clone()))
                .is_some_and(|kept| now < kept.expires_at)
        })
    }

    fn remember(&mut self, record: Option<&IdempotencyRecord>) {
        if let Some(record) = record {
            self.idempotency.insert(
                (record.scope.clone(), record.key_digest.clone()),
                record.clone(),
            );
        }
    }

    fn insert_key(&mut self, entry: &ApiKeyEntry) {
        self.api_keys.insert(entry.hash, entry.record());
        self.key_entries
            .insert((entry.tenant.clone(), entry.id.clone()), entry.clone());
    }

    /// The stored tenant a conditional change applies to: present, not deleted, at the
    /// revision before the new one.
    fn at_revision_before(&self, tenant: &Tenant) -> bool {
        self.tenants.get(&tenant.id).is_some_and(|stored| {
            stored.status != TenantStatus::Deleted && stored.revision + 1 == tenant.revision
        })
    }
}

#[async_trait]
impl TenantRegistry for MemoryStore {
    async fn create_tenant(&self, creation: &TenantCreation) -> Result<Written, StoreError> {
        let now = self.now();
        let mut tables = self.lock();
        if tables.idempotency_taken(creation.idempotency.as_ref(), now) {
            return Ok(Written::IdempotencyKeyTaken);
        }
        let id = &creation.tenant.id;
        if tables.tenants.contains_key(id) || tables.tombstones.contains(id) {
            return Ok(Written::Conflict);
        }
        tables.tenants.insert(id.clone(), creation.tenant.clone());
        for key in &creation.keys {
            tables.insert_key(key);
        }
        tables.remember(creation.idempotency.as_ref());
        tables.outbox.push_back(creation.event.clone());
        if let Some(owner) = &creation.owner {
            let membership = &owner.membership;
            tables.members.insert(
                (membership.tenant.clone(), membership.user.clone()),
                membership.clone(),
            );
            tables.outbox.push_back(owner.event.clone());
        }
        Ok(Written::Done)
    }

    async fn list_tenants(
        &self,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Page<Tenant>, StoreError> {
        let tables = self.lock();
        let mut listed: Vec<&Tenant> = tables
            .tenants
            .values()
            .filter(|tenant| tenant.status != TenantStatus::Deleted)
            .filter(|tenant| after.is_none_or(|after| &tenant.id > after))
            .collect();
        listed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(page(listed.into_iter().cloned(), limit))
    }

    async fn update_tenant(&self, tenant: &Tenant, event: &Event) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        if !tables.at_revision_before(tenant) {
            return Ok(false);
        }
        tables.tenants.insert(tenant.id.clone(), tenant.clone());
        tables.outbox.push_back(event.clone());
        Ok(true)
    }

    async fn delete_tenant(&self, tenant: &Tenant, event: &Event) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        if !tables.at_revision_before(tenant) {
            return Ok(false);
        }
        tables.tenants.insert(tenant.id.clone(), tenant.clone());
        tables.tombstones.insert(tenant.id.clone());
        tables.outbox.push_back(event.clone());
        Ok(true)
    }

    async fn purge_api_keys_at(
        &self,
        tenant: &TenantId,
        purge_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.lock().keys_purged_at.insert(tenant.clone(), purge_at);
        Ok(())
    }

    async fn create_api_key(&self, creation: &KeyCreation) -> Result<Written, StoreError> {
        let now = self.now();
        let mut tables = self.lock();
        if tables.idempotency_taken(creation.idempotency.as_ref(), now) {
            return Ok(Written::IdempotencyKeyTaken);
        }
        let tenant = &creation.key.tenant;
        if let Some((old, expires_at)) = &creation.replacing {
            let Some(entry) = tables
                .key_entries
                .get_mut(&(tenant.clone(), old.clone()))
                .filter(|entry| entry.revoked_at.is_none())
            else {
                return Ok(Written::Conflict);
            };
            entry.expires_at = Some(*expires_at);
            let record = entry.record();
            tables.api_keys.insert(record.hash, record);
        }
        tables.insert_key(&creation.key);
        tables.remember(creation.idempotency.as_ref());
        tables.outbox.push_back(creation.event.clone());
        Ok(Written::Done)
    }

    async fn list_api_keys(
        &self,
        tenant: &TenantId,
        after: Option<&ApiKeyId>,
        limit: usize,
    ) -> Result<Page<ApiKeyEntry>, StoreError> {
        let now = self.now();
        let tables = self.lock();
        if tables.keys_purged(tenant, now) {
            return Ok(Page {
                items: Vec::new(),
                has_more: false,
            });
        }
        let newest_first = tables
            .key_entries
            .range((tenant.clone(), key_id_bound('0'))..=(tenant.clone(), key_id_bound('f')))
            .map(|(_, entry)| entry)
            .rev()
            .filter(|entry| after.is_none_or(|after| &entry.id < after))
            .cloned()
            .collect::<Vec<_>>();
        Ok(page(newest_first.into_iter(), limit))
    }

    async fn get_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKeyEntry>, StoreError> {
        let now = self.now();
        let tables = self.lock();
        if tables.keys_purged(tenant, now) {
            return Ok(None);
        }
        Ok(tables
            .key_entries
            .get(&(tenant.clone(), id.clone()))
            .cloned())
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        now: Timestamp,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let Some(entry) = tables
            .key_entries
            .get_mut(&(tenant.clone(), id.clone()))
            .filter(|entry| entry.revoked_at.is_none())
        else {
            return Ok(false);
        };
        entry.revoked_at = Some(now);
        let record = entry.record();
        tables.api_keys.insert(record.hash, record);
        tables.outbox.push_back(event.clone());
        Ok(true)
    }

    async fn record_key_use(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        if let Some(entry) = tables.key_entries.get_mut(&(tenant.clone(), id.clone())) {
            let stale = entry
                .last_used_at
                .is_none_or(|last| last.plus_secs(KEY_USE_INTERVAL_SECS) <= now);
            if stale {
                entry.last_used_at = Some(now);
            }
        }
        Ok(())
    }

    async fn find_idempotency(
        &self,
        scope: &IdempotencyScope,
        key_digest: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .lock()
            .idempotency
            .get(&(scope.clone(), key_digest.to_owned()))
            .filter(|record| now < record.expires_at)
            .cloned())
    }
}

/// The smallest (`'0'`) or largest (`'f'`) key id: the bounds of a tenant's keys.
fn key_id_bound(digit: char) -> ApiKeyId {
    ApiKeyId::parse(&format!("key_{}", digit.to_string().repeat(32))).expect("a well-formed id")
}

pub(super) fn page<T>(mut items: impl Iterator<Item = T>, limit: usize) -> Page<T> {
    let taken: Vec<T> = items.by_ref().take(limit).collect();
    Page {
        has_more: items.next().is_some(),
        items: taken,
    }
}
