//! Tenants and API keys.

use super::AuthKit;
use crate::error::AuthError;
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

impl AuthKit {
    /// Resolves an API key to its tenant. Every failure is the same error, so a caller
    /// cannot tell an unknown key from a revoked one.
    pub async fn authenticate_api_key(&self, raw: &str) -> Result<(Tenant, KeyKind), AuthError> {
        let key = ApiKey::parse(raw).map_err(|_| AuthError::InvalidApiKey)?;
        let hash = key.hash(&self.keys.current().pepper);
        let record = self
            .stores
            .tenants
            .find_api_key(&hash)
            .await?
            .filter(|record| !record.revoked && record.kind == key.kind())
            .ok_or(AuthError::InvalidApiKey)?;
        let tenant = self
            .stores
            .tenants
            .get_tenant(&record.tenant)
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        Ok((tenant, record.kind))
    }

    pub async fn tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        let id = TenantId::parse(id).map_err(|_| AuthError::TenantNotFound)?;
        self.stores
            .tenants
            .get_tenant(&id)
            .await?
            .ok_or(AuthError::TenantNotFound)
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
