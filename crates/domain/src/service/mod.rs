//! The service: every use case of AuthKit as one method on [`AuthKit`], which holds the
//! ports (stores, sender, keys, clock, randomness) chosen by the composition root.

mod devices;
mod magic_link;
mod sessions;
mod sign_in;
mod tenants;

use std::sync::Arc;

use crate::audit::{AuditEvent, AuditKind, Outcome};
use crate::clock::{Clock, Randomness, Timestamp};
use crate::delivery::Sender;
use crate::error::AuthError;
use crate::rate_limit::{Action, RateLimitPolicy, Subject};
use crate::store::Stores;
use crate::tenant::Tenant;
use crate::token::KeyMaterial;

pub use devices::{BoundDevice, DeviceCredential};
pub use sessions::{SignedIn, Tokens};
pub use sign_in::{
    ConfirmedLink, RequestedKind, StartRequest, StartedChallenge, VerifiedChallenge,
};
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

/// Deployment-wide settings the service needs.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The `iss` of every token, and the base of the discovery document: an https URL.
    pub issuer: String,
    /// Where people's browsers reach the API (magic links point here).
    pub public_base_url: String,
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
        }
    }

    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    pub fn jwks(&self) -> crate::token::Jwks {
        self.keys.current().signing.jwks()
    }

    /// Ready when the stores answer and key material is loaded.
    pub async fn readiness(&self) -> Result<(), AuthError> {
        self.stores.audit.ping().await?;
        let _ = self.keys.current().signing.current();
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Counts `action` against every applicable limit and refuses when one is exceeded.
    async fn enforce_rate_limits(
        &self,
        action: Action,
        subject: Subject<'_>,
        tenant: &Tenant,
    ) -> Result<(), AuthError> {
        let now = self.now();
        let keys = self.keys.current();
        let counted = tenant
            .policy
            .rate_limits
            .counters(action, subject, now, &keys.pepper);
        if counted.is_empty() {
            return Ok(());
        }
        let counter_keys: Vec<_> = counted.iter().map(|(_, key)| key.clone()).collect();
        let counts = self.stores.counters.increment(&counter_keys, now).await?;
        RateLimitPolicy::evaluate(&counted, &counts, now).map_err(|tripped| {
            tracing::info!(tenant = %tenant.id, scope = tripped.scope.as_str(), outcome = "rate_limited", "rate limit tripped");
            AuthError::RateLimited(tripped)
        })
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
mod testing;
#[cfg(test)]
mod tests;
