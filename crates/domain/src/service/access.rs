//! Who may do what: a tenant's standing, what a key's kind allows from where, and noting
//! when a key was last used. The HTTP layer asks here for every request with an API key.
//!
//! - A suspended tenant is refused everything (`tenant_suspended`); a deleted one is gone.
//! - A publishable key serves browsers and apps: a request carrying an `Origin` must come
//!   from one of the tenant's allowed web origins (tenants without a list: the deployment's).
//! - A secret key serves servers: sent from a browser (with an `Origin`) it is refused,
//!   saying why; the tenant may restrict the addresses it is used from (CIDRs).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;

use super::AuthKit;
use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::registry::KEY_USE_INTERVAL_SECS;
use crate::tenant::{ApiKeyId, KeyKind, Tenant, TenantStatus, WebOrigin};

/// What a request says about where it comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    /// The `Origin` header, when the request has one (browsers send it on cross-origin
    /// requests and on every POST).
    pub origin: Option<&'a str>,
    /// The client's address as the edge determined it.
    pub ip: Option<IpAddr>,
}

/// A request whose API key passed every check.
#[derive(Debug, Clone)]
pub struct KeyCaller {
    pub tenant: Tenant,
    pub kind: KeyKind,
    /// None for keys created before keys had ids.
    pub key_id: Option<ApiKeyId>,
    /// The request's origin when it may read the answer (`Access-Control-Allow-Origin`).
    pub allowed_origin: Option<WebOrigin>,
}

/// When this process last noted each key's use, so that it writes at most once a minute
/// per key however many requests it serves.
#[derive(Default)]
pub(super) struct KeyUses(Mutex<HashMap<ApiKeyId, Timestamp>>);

impl KeyUses {
    /// True when the use at `now` should be written (and remembers it).
    fn due(&self, id: &ApiKeyId, now: Timestamp) -> bool {
        let mut noted = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match noted.get(id) {
            Some(last) if now < last.plus_secs(KEY_USE_INTERVAL_SECS) => false,
            _ => {
                if noted.len() >= 10_000 {
                    noted.clear();
                }
                noted.insert(id.clone(), now);
                true
            }
        }
    }
}

impl AuthKit {
    /// Authenticates a request's API key and judges whether this key may be used from
    /// where the request comes from.
    pub async fn authenticate_request(
        &self,
        raw_key: &str,
        request: &RequestContext<'_>,
    ) -> Result<KeyCaller, AuthError> {
        let (tenant, record) = self.authenticate_api_key(raw_key).await?;
        let allowed_origin = self.check_context(&tenant, record.kind, request)?;
        Ok(KeyCaller {
            kind: record.kind,
            key_id: record.id,
            tenant,
            allowed_origin,
        })
    }

    /// The one place a tenant's standing is judged, for every request that acts for it
    /// (API-key routes, the magic-link page): suspended tenants are refused, deleted ones
    /// are not found. Checks of the same kind for users (disabled users) belong beside it.
    pub(super) fn check_standing(&self, tenant: &Tenant) -> Result<(), AuthError> {
        match tenant.status {
            TenantStatus::Active => Ok(()),
            TenantStatus::Suspended => Err(AuthError::TenantSuspended),
            TenantStatus::Deleted => Err(AuthError::TenantNotFound),
        }
    }

    /// The origin that may read the answer, or why the request is refused.
    pub(super) fn check_context(
        &self,
        tenant: &Tenant,
        kind: KeyKind,
        request: &RequestContext<'_>,
    ) -> Result<Option<WebOrigin>, AuthError> {
        match kind {
            KeyKind::Secret => {
                if request.origin.is_some() {
                    return Err(AuthError::SecretKeyInBrowser);
                }
                let allowed = tenant.ip_allowlist.is_empty()
                    || request.ip.is_some_and(|ip| {
                        tenant
                            .ip_allowlist
                            .iter()
                            .any(|network| network.contains(ip))
                    });
                if !allowed {
                    return Err(AuthError::IpNotAllowed);
                }
                Ok(None)
            }
            KeyKind::Publishable => {
                let Some(raw) = request.origin else {
                    return Ok(None);
                };
                let origin = WebOrigin::parse(raw).map_err(|_| AuthError::OriginNotAllowed)?;
                let allowed = match &tenant.allowed_origins {
                    Some(listed) => listed.contains(&origin),
                    None => self.settings.default_allowed_origins.allows(&origin),
                };
                if allowed {
                    Ok(Some(origin))
                } else {
                    Err(AuthError::OriginNotAllowed)
                }
            }
        }
    }

    /// The note of this key's use, when one is due (at most once a minute per key and
    /// process): a write for the caller to run beside the request, never in its path, so it
    /// adds no round trip to a sign-in (decision 116). Best effort, like audit: a lost note
    /// is logged and fails nothing.
    pub fn key_use_note(
        &self,
        caller: &KeyCaller,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        let id = caller.key_id.clone()?;
        let now = self.now();
        if !self.key_uses.due(&id, now) {
            return None;
        }
        let registry = self.stores.registry.clone();
        let tenant = caller.tenant.id.clone();
        Some(async move {
            if let Err(error) = registry.record_key_use(&tenant, &id, now).await {
                tracing::warn!(tenant = %tenant, key = %id, error = %error, "key use not noted");
            }
        })
    }
}
