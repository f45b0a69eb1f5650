//! The service: every use case of AuthKit as one method on [`AuthKit`], which holds the
//! ports (stores, sender, keys, clock, randomness) chosen by the composition root.

mod access;
mod accounts;
mod api_keys;
mod decoy;
mod devices;
mod magic_link;
mod sessions;
mod sign_in;
mod tenant_admin;
mod tenants;

use std::sync::Arc;

use crate::audit::{AuditEvent, AuditKind, Outcome};
use crate::clock::{Clock, Randomness, Timestamp};
use crate::delivery::Sender;
use crate::store::{AuditLog, Stores};
use crate::tenant::Tenant;
use crate::token::{Jwks, KeyMaterial};

pub use access::{KeyCaller, RequestContext};
pub use api_keys::{IssuedKey, RotatedKey, MAX_ROTATION_OVERLAP_SECS};
pub use decoy::DecoyChallenge;
pub use devices::{BoundDevice, DeviceCredential};
pub use sessions::{SignedIn, Tokens};
pub use sign_in::{
    ConfirmedLink, ExpectedResult, RequestedKind, StartRequest, StartedChallenge, VerifiedChallenge,
};
pub use tenant_admin::{Actor, IdempotencyKey, PageRequest, TENANT_RETENTION_SECS};
pub use tenants::{CreatedTenant, NewTenant};

/// Where the current key material comes from. The AWS adapter refreshes it on a timer;
/// the pepper must never change under a running deployment (stored hashes depend on it).
pub trait KeySource: Send + Sync {
    fn current(&self) -> Arc<KeyMaterial>;
}

/// Key material that never changes: local runs and tests.
pub struct StaticKeys(pub Arc<KeyMaterial>);

impl KeySource for StaticKeys {
    fn current(&self) -> Arc<KeyMaterial> {
        self.0.clone()
    }
}

/// The public half of the current signing keys.
pub trait PublicKeys: Send + Sync {
    fn jwks(&self) -> Jwks;
}

impl PublicKeys for StaticKeys {
    fn jwks(&self) -> Jwks {
        self.0.signing.jwks()
    }
}

impl PublicKeys for AuthKit {
    fn jwks(&self) -> Jwks {
        self.keys.current().signing.jwks()
    }
}

/// What the discovery routes publish: the issuer and its public keys. The function that
/// serves them is built from these alone, so it never holds the pepper or a store.
pub struct PublishedKeys {
    pub issuer: String,
    pub keys: Arc<dyn PublicKeys>,
}

impl PublishedKeys {
    pub fn of(authkit: Arc<AuthKit>) -> PublishedKeys {
        PublishedKeys {
            issuer: authkit.settings.issuer.clone(),
            keys: authkit,
        }
    }
}

/// Deployment-wide settings the service needs.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The `iss` of every token, and the base of the discovery document: an https URL.
    pub issuer: String,
    /// Where people's browsers reach the API (magic links point here).
    pub public_base_url: String,
    /// Browser origins allowed for tenants without a list of their own.
    pub default_allowed_origins: crate::tenant::DeploymentOrigins,
}

/// Who is calling: the tenant (from the API key) and the client's address.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub tenant: &'a Tenant,
    pub ip: Option<&'a str>,
}

pub struct AuthKit {
    stores: Stores,
    sender: Arc<dyn Sender>,
    keys: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Randomness>,
    settings: ServiceSettings,
    key_uses: access::KeyUses,
}

impl AuthKit {
    pub fn new(
        stores: Stores,
        sender: Arc<dyn Sender>,
        keys: Arc<dyn KeySource>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Randomness>,
        settings: ServiceSettings,
    ) -> AuthKit {
        AuthKit {
            stores,
            sender,
            keys,
            clock,
            random,
            settings,
            key_uses: access::KeyUses::default(),
        }
    }

    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    /// What a readiness check asks: can the store be reached?
    pub fn readiness_probe(&self) -> Arc<dyn AuditLog> {
        self.stores.audit.clone()
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Audit is best effort: an unavailable audit table must not stop people signing in,
    /// but the loss is logged loudly.
    async fn audit(&self, event: AuditEvent) {
        if let Err(error) = self.stores.audit.append(&event).await {
            tracing::error!(tenant = %event.tenant, kind = event.kind.as_str(), error = %error, "audit event lost");
        }
    }

    fn event(&self, tenant: &Tenant, kind: AuditKind, outcome: Outcome) -> AuditEvent {
        let mut suffix = [0u8; 6];
        self.random.fill(&mut suffix);
        let at = self.now();
        AuditEvent {
            id: format!("{}-{}", at.0, hex::encode(suffix)),
            tenant: tenant.id.clone(),
            at,
            kind,
            outcome,
            user_id: None,
            challenge_id: None,
            device_id: None,
            ip: None,
            identifier: None,
            channel: None,
            detail: None,
        }
    }
}

#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod rate_limit_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tenant_admin_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
