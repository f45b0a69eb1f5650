//! A tenant's API keys: listed (never their secrets), created, revoked, and rotated with
//! an overlap in which the old key still works. A new key's secret is shown once; a
//! retried creation (same idempotency key) shows the same key again.

use super::tenant_admin::{fingerprint, Actor, Creating, IdempotencyKey, PageRequest};
use super::AuthKit;
use crate::error::AuthError;
use crate::event::EventKind;
use crate::registry::{IdempotencyRecord, IdempotencyScope, KeyCreation, Page, Written};
use crate::tenant::{ApiKey, ApiKeyEntry, ApiKeyId, KeyKind, TenantId};

/// At most how long a rotated key keeps working beside its replacement.
pub const MAX_ROTATION_OVERLAP_SECS: u32 = 7 * 24 * 3600;

/// A key just created: its entry, and the key itself, to be shown once.
#[derive(Debug)]
pub struct IssuedKey {
    pub entry: ApiKeyEntry,
    pub key: ApiKey,
}

/// A rotation: the new key, and the old one with its `expires_at`.
#[derive(Debug)]
pub struct RotatedKey {
    pub issued: IssuedKey,
    pub replaced: ApiKeyEntry,
}

impl AuthKit {
    /// The tenant's keys, newest first.
    pub async fn list_api_keys(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<ApiKeyEntry>, AuthError> {
        let after = match &page.starting_after {
            None => None,
            Some(raw) => Some(
                ApiKeyId::parse(raw)
                    .map_err(|_| AuthError::InvalidRequest("starting_after is a key id"))?,
            ),
        };
        Ok(self
            .stores
            .registry
            .list_api_keys(tenant, after.as_ref(), page.limit)
            .await?)
    }

    /// One of the tenant's keys. Another tenant's key is not found, like an unknown one.
    pub async fn api_key(&self, tenant: &TenantId, id: &str) -> Result<ApiKeyEntry, AuthError> {
        let id = ApiKeyId::parse(id).map_err(|_| AuthError::ApiKeyNotFound)?;
        self.stores
            .registry
            .get_api_key(tenant, &id)
            .await?
            .ok_or(AuthError::ApiKeyNotFound)
    }

    pub async fn create_api_key(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        kind: KeyKind,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<IssuedKey, AuthError> {
        let request = ["create_api_key", tenant.as_str(), kind.prefix()];
        self.issue_key(actor, tenant, kind, None, &request, idempotency)
            .await
    }

    /// Revokes a key; it stops working at once in this process and within the cache bound
    /// (`tenant_cache_secs`) in others. Revoking a revoked key changes nothing.
    pub async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
    ) -> Result<ApiKeyEntry, AuthError> {
        let entry = self.api_key(tenant, id).await?;
        let event = self.admin_event(
            tenant,
            EventKind::ApiKeyRevoked,
            format!("{} by {}", entry.id, actor.describe()),
        );
        self.stores
            .registry
            .revoke_api_key(tenant, &entry.id, self.now(), &event)
            .await?;
        self.tenants.forget(tenant);
        self.api_key(tenant, entry.id.as_str()).await
    }

    /// Issues a key of the same kind and lets the old one work for `overlap_secs` more
    /// (never longer than it would have anyway), so that every server can switch over.
    pub async fn rotate_api_key(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        id: &str,
        overlap_secs: u32,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<RotatedKey, AuthError> {
        if overlap_secs > MAX_ROTATION_OVERLAP_SECS {
            return Err(AuthError::InvalidRequest(
                "expires_in_secs is 0-604800 (7 days)",
            ));
        }
        let old = self.api_key(tenant, id).await?;
        let overlap = overlap_secs.to_string();
        let request = ["rotate_api_key", tenant.as_str(), old.id.as_str(), &overlap];
        let issued = match self.replayed_key(tenant, &request, idempotency).await? {
            Some(issued) => issued,
            None => {
                if !old.is_live(self.now()) {
                    return Err(AuthError::ApiKeyNotLive);
                }
                let until = self.now().plus_secs(i64::from(overlap_secs));
                let expires_at = old.expires_at.map_or(until, |current| current.min(until));
                let replacing = Some((old.id.clone(), expires_at));
                let issued = self
                    .issue_key(actor, tenant, old.kind, replacing, &request, idempotency)
                    .await?;
                self.tenants.forget(tenant);
                issued
            }
        };
        Ok(RotatedKey {
            issued,
            replaced: self.api_key(tenant, old.id.as_str()).await?,
        })
    }

    /// A retried rotation's key, if this is a retry.
    async fn replayed_key(
        &self,
        tenant: &TenantId,
        request: &[&str],
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Option<IssuedKey>, AuthError> {
        let scope = IdempotencyScope::Tenant(tenant.clone());
        match self
            .creating(&scope, idempotency, &fingerprint(request))
            .await?
        {
            Creating::Replay(record) => self.replay_key(tenant, &record).await.map(Some),
            Creating::Fresh { .. } => Ok(None),
        }
    }

    /// Creates a key (replacing another, for a rotation), or answers a retry from its
    /// idempotency record. The creation is recorded as an event naming both keys and who.
    async fn issue_key(
        &self,
        actor: &Actor,
        tenant: &TenantId,
        kind: KeyKind,
        replacing: Option<(ApiKeyId, crate::clock::Timestamp)>,
        request: &[&str],
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<IssuedKey, AuthError> {
        self.stored_tenant(tenant.as_str()).await?;
        let scope = IdempotencyScope::Tenant(tenant.clone());
        let fingerprint = fingerprint(request);
        for _ in 0..2 {
            let (seed, record) = match self.creating(&scope, idempotency, &fingerprint).await? {
                Creating::Replay(record) => return self.replay_key(tenant, &record).await,
                Creating::Fresh { seed, record } => (seed, record),
            };
            let now = self.now();
            let pepper = self.keys.current().pepper.clone();
            let key = ApiKey::derive(kind, &pepper, &seed, 0);
            let id = ApiKeyId::generate_at(now, self.random.as_ref());
            let entry = ApiKeyEntry::new(id, &key, tenant.clone(), &pepper, now);
            let event = match &replacing {
                Some((old, _)) => self.admin_event(
                    tenant,
                    EventKind::ApiKeyRotated,
                    format!("{} replaces {old} by {}", entry.id, actor.describe()),
                ),
                None => self.admin_event(
                    tenant,
                    EventKind::ApiKeyCreated,
                    format!("{} by {}", entry.id, actor.describe()),
                ),
            };
            let creation = KeyCreation {
                event,
                idempotency: record.map(|record| IdempotencyRecord {
                    created: vec![entry.id.to_string()],
                    ..record
                }),
                key: entry,
                replacing: replacing.clone(),
            };
            match self.stores.registry.create_api_key(&creation).await? {
                Written::Done => {
                    return Ok(IssuedKey {
                        entry: creation.key,
                        key,
                    })
                }
                Written::Conflict => return Err(AuthError::ApiKeyNotLive),
                Written::IdempotencyKeyTaken => continue,
            }
        }
        Err(AuthError::ConcurrentUpdate)
    }

    async fn replay_key(
        &self,
        tenant: &TenantId,
        record: &IdempotencyRecord,
    ) -> Result<IssuedKey, AuthError> {
        let [id] = record.created.as_slice() else {
            return Err(AuthError::IdempotencyKeyReused);
        };
        let entry = self.api_key(tenant, id).await?;
        let seed = hex::decode(&record.seed).map_err(|_| AuthError::IdempotencyKeyReused)?;
        let key = ApiKey::derive(entry.kind, &self.keys.current().pepper, &seed, 0);
        Ok(IssuedKey { entry, key })
    }
}
