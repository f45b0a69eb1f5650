//! Finding the tenant a request acts for: by its API key, or by its id (a magic link
//! names its tenant, and has no key), and the warm process's memory of both. Operators'
//! and tenants' changes live in `tenant_admin` and `api_keys`.

use std::collections::HashMap;
use std::sync::Mutex;

use super::AuthKit;
use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::secret::SecretHash;
use crate::tenant::{
    ApiKey, ApiKeyEntry, ApiKeyRecord, Tenant, TenantId, TenantPolicy, TenantStatus,
};

/// A tenant as the local server and tests create it: settings beyond these start as
/// every new tenant's do (no browser origin, any server address, every channel).
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
    /// The two keys as listed: publishable, then secret.
    pub keys: Vec<ApiKeyEntry>,
}

/// Entries a process remembers at most, per kind; a full map is emptied (a process serving
/// more tenants than this simply reads more often).
const CACHE_ENTRIES: usize = 1_000;

/// API keys and tenants a warm process has read, each trusted for `ttl_secs` from the
/// read: every request carries an API key, and reading it and its tenant cost two round
/// trips before any work (decision 68). Unknown keys are not remembered, so made-up keys
/// cannot fill the memory. A change made through this process forgets what it changed
/// ([`TenantCache::forget`]), so it takes effect here at once and elsewhere within the bound.
pub(super) struct TenantCache {
    ttl_secs: i64,
    keys: Remembered<SecretHash, ApiKeyRecord>,
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

    /// Forgets the tenant and every key of it this process remembers: after a change
    /// through this process, its next request reads them again.
    pub(super) fn forget(&self, tenant: &TenantId) {
        self.tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (_, record)| &record.tenant != tenant);
    }
}

impl AuthKit {
    /// Resolves an API key to its tenant and the key's record. Every failure is the same
    /// error, so a caller cannot tell an unknown key from a revoked or expired one, or one
    /// of a deleted tenant; a suspended tenant is refused as such. A key and a tenant read
    /// in the last `tenant_cache_secs` are not read again: a revocation, suspension or
    /// deletion made elsewhere takes effect within that bound (an expiry, exactly).
    pub async fn authenticate_api_key(
        &self,
        raw: &str,
    ) -> Result<(Tenant, ApiKeyRecord), AuthError> {
        let key = ApiKey::parse(raw).map_err(|_| AuthError::InvalidApiKey)?;
        let hash = key.hash(&self.keys.current().pepper);
        let now = self.now();
        let record = match self.tenants.fresh(&self.tenants.keys, &hash, now) {
            Some(record) => record,
            None => {
                let record = self
                    .stores
                    .tenants
                    .find_api_key(&hash)
                    .await?
                    .filter(|record| record.is_live(now))
                    .ok_or(AuthError::InvalidApiKey)?;
                self.tenants
                    .keep(&self.tenants.keys, hash, record.clone(), now);
                record
            }
        };
        if !record.is_live(now) || record.kind != key.kind() {
            return Err(AuthError::InvalidApiKey);
        }
        let tenant = self
            .tenant_by_id(&record.tenant)
            .await
            .and_then(|tenant| self.check_standing(&tenant).map(|()| tenant))
            .map_err(|error| match error {
                AuthError::TenantNotFound => AuthError::InvalidApiKey,
                other => other,
            })?;
        Ok((tenant, record))
    }

    /// A tenant that end users may use (a magic link's): active, or refused. Read through
    /// this process's memory, like the tenant of an API key.
    pub async fn tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        let id = TenantId::parse(id).map_err(|_| AuthError::TenantNotFound)?;
        let tenant = self.tenant_by_id(&id).await?;
        self.check_standing(&tenant)?;
        Ok(tenant)
    }

    /// The stored tenant of any status but deleted, read from the store (never from
    /// memory): what administrative changes start from.
    pub(super) async fn stored_tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        let id = TenantId::parse(id).map_err(|_| AuthError::TenantNotFound)?;
        self.stores
            .tenants
            .get_tenant(&id)
            .await?
            .filter(|tenant| tenant.status != TenantStatus::Deleted)
            .ok_or(AuthError::TenantNotFound)
    }

    /// The tenant, from this process's memory when read recently.
    pub(super) async fn tenant_by_id(&self, id: &TenantId) -> Result<Tenant, AuthError> {
        let now = self.now();
        if let Some(tenant) = self.tenants.fresh(&self.tenants.tenants, id, now) {
            return Ok(tenant);
        }
        let tenant = self
            .stores
            .tenants
            .get_tenant(id)
            .await?
            .ok_or(AuthError::TenantNotFound)?;
        self.tenants
            .keep(&self.tenants.tenants, id.clone(), tenant.clone(), now);
        Ok(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use super::super::Actor;
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
            id: None,
            expires_at: None,
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

    #[tokio::test]
    async fn a_change_made_through_this_process_takes_effect_here_at_once() {
        let h = Harness::new().await;
        let key = h.publishable_key.reveal();
        h.authkit.authenticate_api_key(&key).await.unwrap();
        let operator = Actor::Operator("local".into());
        h.authkit
            .suspend_tenant(&operator, &h.tenant.id)
            .await
            .unwrap();
        assert!(matches!(
            h.authkit.authenticate_api_key(&key).await,
            Err(AuthError::TenantSuspended)
        ));
        h.authkit
            .reactivate_tenant(&operator, &h.tenant.id)
            .await
            .unwrap();
        h.authkit.authenticate_api_key(&key).await.unwrap();
        h.authkit
            .delete_tenant(&operator, &h.tenant.id)
            .await
            .unwrap();
        assert!(matches!(
            h.authkit.authenticate_api_key(&key).await,
            Err(AuthError::InvalidApiKey)
        ));
    }

    #[tokio::test]
    async fn a_suspension_made_elsewhere_takes_effect_within_the_bound() {
        let h = Harness::new().await;
        let key = h.publishable_key.reveal();
        h.authkit.authenticate_api_key(&key).await.unwrap();
        // Another process (another service over the same store) suspends the tenant.
        let elsewhere = h.service_over(h.stores.clone());
        elsewhere
            .suspend_tenant(&Actor::Operator("local".into()), &h.tenant.id)
            .await
            .unwrap();
        h.clock.advance(29);
        assert!(h.authkit.authenticate_api_key(&key).await.is_ok());
        h.clock.advance(1);
        assert!(matches!(
            h.authkit.authenticate_api_key(&key).await,
            Err(AuthError::TenantSuspended)
        ));
    }
}
