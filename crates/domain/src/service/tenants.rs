//! Finding the tenant a request acts for: by its API key, or by its id (a magic link
//! names its tenant, and has no key). Operators' and tenants' changes live in
//! `tenant_admin` and `api_keys`.

use super::AuthKit;
use crate::error::AuthError;
use crate::tenant::{ApiKey, ApiKeyEntry, ApiKeyRecord, Tenant, TenantId, TenantPolicy};

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

impl AuthKit {
    /// Resolves an API key to its tenant and the key's record. Every failure is the same
    /// error, so a caller cannot tell an unknown key from a revoked or expired one, or one
    /// of a deleted tenant; a suspended tenant is refused as such.
    pub async fn authenticate_api_key(
        &self,
        raw: &str,
    ) -> Result<(Tenant, ApiKeyRecord), AuthError> {
        let key = ApiKey::parse(raw).map_err(|_| AuthError::InvalidApiKey)?;
        let hash = key.hash(&self.keys.current().pepper);
        let now = self.now();
        let record = self
            .stores
            .tenants
            .find_api_key(&hash)
            .await?
            .filter(|record| record.is_live(now) && record.kind == key.kind())
            .ok_or(AuthError::InvalidApiKey)?;
        let tenant = self
            .stores
            .tenants
            .get_tenant(&record.tenant)
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        self.check_standing(&tenant).map_err(|error| match error {
            AuthError::TenantNotFound => AuthError::InvalidApiKey,
            other => other,
        })?;
        Ok((tenant, record))
    }

    /// A tenant that end users may use (a magic link's): active, or refused.
    pub async fn tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        let tenant = self.stored_tenant(id).await?;
        self.check_standing(&tenant)?;
        Ok(tenant)
    }

    /// The stored tenant of any status but deleted.
    pub(super) async fn stored_tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        let id = TenantId::parse(id).map_err(|_| AuthError::TenantNotFound)?;
        self.stores
            .tenants
            .get_tenant(&id)
            .await?
            .filter(|tenant| tenant.status != crate::tenant::TenantStatus::Deleted)
            .ok_or(AuthError::TenantNotFound)
    }
}
