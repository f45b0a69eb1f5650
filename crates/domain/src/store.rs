//! The storage the domain needs, as traits adapters implement (DynamoDB, embedded).
//!
//! Every method that changes state under a condition is one atomic step in the store
//! (a conditional write in DynamoDB, a critical section in the embedded store), so that
//! concurrent requests cannot race past a limit. The conditions themselves are defined on
//! the domain types (`Challenge::accepts_attempt` and friends) so both stores check the same.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::challenge::{Challenge, ChallengeId};
use crate::clock::Timestamp;
use crate::device::{Device, DeviceId};
use crate::secret::SecretHash;
use crate::tenant::{ApiKeyRecord, Tenant, TenantId};
use crate::token::{FamilyId, RefreshFamily};
use crate::user::{User, UserId};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store call failed. Infrastructure detail stays in the source chain for logs; the
/// domain only needs to know whether to retry later.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the item already exists")]
    AlreadyExists,
    #[error("the store is throttling requests")]
    Throttled(#[source] BoxError),
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
}

/// The result of counting one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// The answer was counted; the challenge as it is after counting.
    Counted(Challenge),
    /// The challenge did not accept an answer; as it is now, to tell the caller why.
    Refused(Challenge),
    NotFound,
}

#[async_trait]
pub trait ChallengeStore: Send + Sync {
    /// Stores a new challenge; `AlreadyExists` if the id is taken.
    async fn insert(&self, challenge: &Challenge) -> Result<(), StoreError>;

    async fn get(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
    ) -> Result<Option<Challenge>, StoreError>;

    /// Counts one answer if and only if `Challenge::accepts_attempt(now)` holds, atomically.
    async fn record_attempt(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<AttemptOutcome, StoreError>;

    /// `Pending → Verified` if `Challenge::accepts_verification(now)`; stores the magic-link
    /// exchange hash when given. False when the condition did not hold.
    async fn mark_verified(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        exchange_hash: Option<SecretHash>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// `Verified → Consumed` if `Challenge::accepts_consumption(now)`.
    async fn mark_consumed(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// `Pending → Undelivered`, when the message could not be sent.
    async fn mark_undelivered(&self, tenant: &TenantId, id: &ChallengeId)
        -> Result<(), StoreError>;

    /// Atomically marks `old` superseded (if `old.accepts_resend(now)` still holds in the
    /// store) and inserts `new`. False when the condition did not hold; then nothing changed.
    async fn supersede(
        &self,
        old: &Challenge,
        new: &Challenge,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// A counter's key and when it may be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterKey {
    pub key: String,
    pub expires_at: Timestamp,
}

/// A counter that admits a request while its count is below `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterLimit {
    pub key: CounterKey,
    pub max: u64,
}

/// What [`CounterStore::admit`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Every counter was below its max and now counts the request.
    Admitted,
    /// These counters (indexes into the request, never empty) were at their max; the
    /// request was counted in none.
    Refused(Vec<usize>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterValue {
    pub count: u64,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Adds one to each counter atomically (creating it at 1), moves its expiry to the
    /// key's `expires_at`, and returns the new counts in order. An expired counter counts
    /// as absent.
    async fn increment(&self, keys: &[CounterKey], now: Timestamp) -> Result<Vec<u64>, StoreError>;

    /// Counts one request in every counter when each is below its max, else in none (a
    /// refused request spends no budget). Exact in one step in the embedded store; the
    /// DynamoDB store writes the counters in parallel and takes back the ones a refusal
    /// left counted, so a refusal can hold a unit of another counter's budget for the
    /// length of one request (docs/data-model.md).
    async fn admit(&self, limits: &[CounterLimit], now: Timestamp)
        -> Result<Admission, StoreError>;

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError>;

    async fn reset(&self, key: &str) -> Result<(), StoreError>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Returns the user for `candidate`'s (tenant, identifier), creating it from
    /// `candidate` if there is none; true when created. Two concurrent first sign-ins
    /// get the same user.
    async fn find_or_create(&self, candidate: &User) -> Result<(User, bool), StoreError>;

    async fn get(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn insert(&self, device: &Device) -> Result<(), StoreError>;

    async fn get(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError>;

    /// Active and revoked devices of a user, oldest first.
    async fn list(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Device>, StoreError>;

    /// Sets `revoked_at` if the device exists and is active; false otherwise.
    async fn revoke(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// If the device exists and is not revoked, atomically: sets its `last_seen` to
    /// `sign_in.at` and links the session it opened to it, so that revoking the device
    /// finds the session. False otherwise, and nothing changed: a device revoked
    /// concurrently never gains a session that its revocation missed.
    async fn record_sign_in(&self, sign_in: &DeviceSignIn) -> Result<bool, StoreError>;

    /// The sessions linked to a device by `record_sign_in` that have not expired.
    async fn sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
        now: Timestamp,
    ) -> Result<Vec<FamilyId>, StoreError>;
}

/// A sign-in with a device's credential, as the device records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSignIn {
    pub tenant: TenantId,
    pub user: UserId,
    pub device: DeviceId,
    /// The session (refresh family) the sign-in opened, and when it expires.
    pub family: FamilyId,
    pub session_expires_at: Timestamp,
    pub at: Timestamp,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert(&self, family: &RefreshFamily) -> Result<(), StoreError>;

    async fn get(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
    ) -> Result<Option<RefreshFamily>, StoreError>;

    /// Replaces the current token hash if it still equals `expected` and the family is not
    /// revoked; bumps the generation and sets `rotated_at` to `now`. False when the
    /// condition did not hold (a concurrent rotation won, or the family was revoked).
    async fn rotate(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
        expected: &SecretHash,
        next: &SecretHash,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    async fn revoke(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates or replaces a tenant.
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    async fn find_api_key(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// The tenant's newest events first, at most `limit`, from the last `days` days.
    async fn recent(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Readiness probe: can the store be reached at all?
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every store the service uses, chosen together by configuration.
#[derive(Clone)]
pub struct Stores {
    pub challenges: std::sync::Arc<dyn ChallengeStore>,
    pub counters: std::sync::Arc<dyn CounterStore>,
    pub users: std::sync::Arc<dyn UserStore>,
    pub devices: std::sync::Arc<dyn DeviceStore>,
    pub sessions: std::sync::Arc<dyn SessionStore>,
    pub tenants: std::sync::Arc<dyn TenantStore>,
    pub registry: std::sync::Arc<dyn crate::registry::TenantRegistry>,
    pub audit: std::sync::Arc<dyn AuditLog>,
}
