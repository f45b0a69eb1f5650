//! The service: every use case of AuthKit as one method on [`AuthKit`], which holds the
//! ports (stores, sender, keys, clock, randomness) chosen by the composition root.

mod access;
mod accounts;
mod answers;
mod api_keys;
mod audit;
mod decoy;
mod devices;
mod identifiers;
mod magic_link;
mod members;
mod privacy;
mod refusals;
mod sessions;
mod sign_in;
mod signing_in_user;
mod signup;
mod tenant_admin;
mod tenants;
mod users;

use std::sync::Arc;

use crate::clock::{Clock, Randomness, Timestamp};
use crate::delivery::Sender;
use crate::error::AuthError;
use crate::event::{Event, EventKind, Outcome};
use crate::store::{Applied, AuditLog, Change, StoreError, Stores};
use crate::tenant::Tenant;
use crate::token::{Jwks, KeyMaterial};

pub use access::{KeyCaller, RequestContext};
pub use answers::{ConfirmedLink, ExpectedResult, VerifiedChallenge};
pub use api_keys::{IssuedKey, RotatedKey, MAX_ROTATION_OVERLAP_SECS};
pub use audit::MAX_AUDIT_PAGE;
pub use decoy::DecoyChallenge;
pub use devices::{BoundDevice, DeviceCredential};
pub use members::{ConsoleUser, Invited, MemberCaller};
pub use privacy::UserExport;
pub use sessions::{SignedIn, Tokens};
pub use sign_in::{RequestedKind, StartRequest, StartedChallenge};
pub use signup::SignupMode;
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
    /// How long a warm process trusts an API key and a tenant it read (0: never): a
    /// revoked key, a suspended or deleted tenant or a changed policy takes effect within
    /// this many seconds in other processes (at once in the process that made the change).
    pub tenant_cache_secs: u32,
    /// Who may create a tenant by self-service sign-up (`AUTHKIT_SIGNUP`).
    pub signup: SignupMode,
}

impl ServiceSettings {
    /// Settings with the default cache bound ([`DEFAULT_TENANT_CACHE_SECS`]).
    pub fn new(issuer: impl Into<String>, public_base_url: impl Into<String>) -> ServiceSettings {
        ServiceSettings {
            issuer: issuer.into(),
            public_base_url: public_base_url.into(),
            default_allowed_origins: Default::default(),
            tenant_cache_secs: DEFAULT_TENANT_CACHE_SECS,
            signup: SignupMode::Off,
        }
    }
}

/// How long API keys and tenants are trusted once read, unless configured otherwise.
pub const DEFAULT_TENANT_CACHE_SECS: u32 = 30;

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
    tenants: tenants::TenantCache,
    refusals: refusals::RefusalCounts,
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
            tenants: tenants::TenantCache::new(settings.tenant_cache_secs),
            refusals: refusals::RefusalCounts::default(),
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

    /// A new event about `tenant`, now, with a fresh id.
    fn event(&self, tenant: &Tenant, kind: EventKind, outcome: Outcome) -> Event {
        let mut event = Event::new(&tenant.id, kind, outcome, self.now(), self.random.as_ref());
        event.retention_days = Some(tenant.policy.audit_retention_days);
        event
    }

    /// Applies a change; its events are recorded with it or not at all.
    async fn apply(&self, change: Change) -> Result<Applied, AuthError> {
        match self.stores.changes.apply(&change).await {
            Ok(applied) => Ok(applied),
            Err(error @ (StoreError::Throttled(_) | StoreError::Unavailable(_))) => {
                self.applied_all_the_same(&change, error).await
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A store that failed may have applied the change anyway: DynamoDB commits a
    /// transaction whose answer, and every retry's, can still be lost. Its first event was
    /// recorded with it or not at all, so a read tells which (decision 87). Only a failure
    /// pays for that read, asked up to three times since the store has just failed; if it
    /// never answers, the first error stands.
    async fn applied_all_the_same(
        &self,
        change: &Change,
        error: StoreError,
    ) -> Result<Applied, AuthError> {
        const READS: usize = 3;
        let Some(event) = change.events.first() else {
            return Err(error.into());
        };
        for _ in 0..READS {
            match self
                .stores
                .changes
                .recorded_event(&event.tenant, &event.id)
                .await
            {
                Ok(Some(_)) => {
                    tracing::warn!(error = %error, event = %event.id, "the store failed after applying a change; it counts as applied");
                    return Ok(Applied::Done);
                }
                Ok(None) => break,
                Err(_) => continue,
            }
        }
        Err(error.into())
    }

    /// Applies a change whose conditions the caller already knows to hold (new ids); a
    /// refusal would mean the store and the domain disagree.
    async fn apply_new(&self, change: Change) -> Result<(), AuthError> {
        match self.apply(change).await? {
            Applied::Done => Ok(()),
            Applied::Refused(_) => Err(StoreError::Corrupt(
                "a write of new items was refused: their ids are taken".into(),
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod magic_link_tests;
#[cfg(test)]
mod members_tests;
#[cfg(test)]
mod partition_tests;
#[cfg(test)]
mod rate_limit_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod signup_tests;
#[cfg(test)]
mod tenant_admin_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod users_tests;
