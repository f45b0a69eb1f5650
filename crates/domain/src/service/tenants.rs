//! Tenants and API keys, and the warm process's memory of them.

use std::collections::HashMap;
use std::sync::Mutex;

use super::AuthKit;
use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::secret::SecretHash;
use crate::tenant::{ApiKey, ApiKeyRecord, KeyKind, Tenant, TenantId, TenantPolicy};

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: TenantId,
    pub name: String,
    pub allowed_redirect_uris: Vec<String>,
    pub policy: TenantPolicy,
}

/// A created tenant and its first keys, shown once.
#[derive(Debug)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub publishable_key: ApiKey,
    pub secret_key: ApiKey,
}

/// Entries a process remembers at most, per kind; a full map is emptied (a process serving
/// more tenants than this simply reads more often).
const CACHE_ENTRIES: usize = 1_000;

/// API keys and tenants a warm process has read, each trusted for `ttl_secs` from the
/// read: every request carries an API key, and reading it and its tenant cost two round
/// trips before any work (decision 68). Unknown keys are not remembered, so made-up keys
/// cannot fill the memory.
pub(super) struct TenantCache {
    ttl_secs: i64,
    keys: Remembered<SecretHash, (Tenant, KeyKind)>,
    tenants: Remembered<TenantId, Tenant>,
}

/// Values by key, each with when it was read.
type Remembered<K, V> = Mutex<HashMap<K, (Timestamp, V)>>;

impl TenantCache {
    pub(super) fn new(ttl_secs: u32) -> TenantCache {
        TenantCache {
            ttl_secs: i64::from(ttl_secs),
            keys: Mutex::default(),
            tenants: Mutex::default(),
        }
    }

    fn fresh<K: std::hash::Hash + Eq, V: Clone>(
        &self,
        map: &Remembered<K, V>,
        key: &K,
        now: Timestamp,
    ) -> Option<V> {
        let map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(read_at, _)| now.0 < read_at.0 + self.ttl_secs)
            .map(|(_, value)| value.clone())
    }

    fn keep<K: std::hash::Hash + Eq, V>(
        &self,
        map: &Remembered<K, V>,
        key: K,
        value: V,
        now: Timestamp,
    ) {
        if self.ttl_secs == 0 {
            return;
        }
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key, (now, value));
    }
}

impl AuthKit {
    /// Resolves an API key to its tenant. Every failure is the same error, so a caller
    /// cannot tell an unknown key from a revoked one. A key read in the last
    /// `tenant_cache_secs` is not read again: a revoked key stops working within that time.
    pub async fn authenticate_api_key(&self, raw: &str) -> Result<(Tenant, KeyKind), AuthError> {
        let key = ApiKey::parse(raw).map_err(|_| AuthError::InvalidApiKey)?;
        let hash = key.hash(&self.keys.current().pepper);
        let now = self.now();
        if let Some(found) = self.tenants.fresh(&self.tenants.keys, &hash, now) {
            return Ok(found);
        }
        let record = self
            .stores
            .tenants
            .find_api_key(&hash)
            .await?
            .filter(|record| !record.revoked && record.kind == key.kind())
            .ok_or(AuthError::InvalidApiKey)?;
        let tenant = self.tenant_by_id(&record.tenant).await?;
        self.tenants
            .keep(&self.tenants.keys, hash, (tenant.clone(), record.kind), now);
        Ok((tenant, record.kind))
    }

    pub async fn tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        let id = TenantId::parse(id).map_err(|_| AuthError::TenantNotFound)?;
        self.tenant_by_id(&id).await.map_err(|error| match error {
            AuthError::InvalidApiKey => AuthError::TenantNotFound,
            other => other,
        })
    }

    /// The tenant, from this process's memory when read recently.
    async fn tenant_by_id(&self, id: &TenantId) -> Result<Tenant, AuthError> {
        let now = self.now();
        if let Some(tenant) = self.tenants.fresh(&self.tenants.tenants, id, now) {
            return Ok(tenant);
        }
        let tenant = self
            .stores
            .tenants
            .get_tenant(id)
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        self.tenants
            .keep(&self.tenants.tenants, id.clone(), tenant.clone(), now);
        Ok(tenant)
    }

    /// Creates a tenant with one publishable and one secret key.
    pub async fn create_tenant(&self, new: NewTenant) -> Result<CreatedTenant, AuthError> {
        if self.stores.tenants.get_tenant(&new.id).await?.is_some() {
            return Err(AuthError::TenantExists);
        }
        let now = self.now();
        let tenant = Tenant {
            id: new.id,
            name: new.name,
            policy: new.policy,
            allowed_redirect_uris: new.allowed_redirect_uris,
            created_at: now,
        };
        self.stores.tenants.put_tenant(&tenant).await?;
        let pepper = self.keys.current().pepper.clone();
        let issue = |kind| ApiKey::generate(kind, self.random.as_ref());
        let (publishable_key, secret_key) = (issue(KeyKind::Publishable), issue(KeyKind::Secret));
        for key in [&publishable_key, &secret_key] {
            let record = ApiKeyRecord {
                hash: key.hash(&pepper),
                tenant: tenant.id.clone(),
                kind: key.kind(),
                created_at: now,
                revoked: false,
            };
            self.stores.tenants.put_api_key(&record).await?;
        }
        Ok(CreatedTenant {
            tenant,
            publishable_key,
            secret_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use crate::error::AuthError;
    use crate::tenant::ApiKeyRecord;

    #[tokio::test]
    async fn a_revoked_key_works_until_the_cache_bound_and_then_never() {
        let h = Harness::new().await;
        let key = h.publishable_key.reveal();
        h.authkit.authenticate_api_key(&key).await.unwrap();
        let pepper = h.pepper();
        let record = ApiKeyRecord {
            hash: h.publishable_key.hash(&pepper),
            tenant: h.tenant.id.clone(),
            kind: h.publishable_key.kind(),
            created_at: h.clock_now(),
            revoked: true,
        };
        h.stores.tenants.put_api_key(&record).await.unwrap();
        h.clock.advance(29);
        assert!(
            h.authkit.authenticate_api_key(&key).await.is_ok(),
            "within the bound the process still trusts what it read"
        );
        h.clock.advance(1);
        assert!(matches!(
            h.authkit.authenticate_api_key(&key).await,
            Err(AuthError::InvalidApiKey)
        ));
    }
}
