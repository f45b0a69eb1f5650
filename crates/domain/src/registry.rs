//! The tenant registry: tenants and API keys as operators and tenants manage them —
//! created atomically together with the request's idempotency record, listed page by
//! page, changed only from the revision the writer read, revoked. Requests find their
//! tenant and key through [`crate::store::TenantStore`]; this is the side that changes them.
//!
//! Like every store trait, each method that changes state is one atomic step in the store
//! (a DynamoDB transaction, a critical section in the embedded store), and records its
//! event (who changed what) in the same step, as [`crate::store::ChangeStore`] does: an
//! operator's or a tenant's change is in the audit log exactly when it happened.

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::event::Event;
use crate::member::Membership;
use crate::store::StoreError;
use crate::tenant::{ApiKeyEntry, ApiKeyId, Tenant, TenantId};
use crate::user::UserId;

/// One page of a listing, and whether more follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// How long an idempotency key is remembered: a retry within this gets the first
/// request's outcome, after it the key may be used again.
pub const IDEMPOTENCY_WINDOW_SECS: i64 = 24 * 3600;

/// Whose idempotency keys these are: operators share one space, each tenant has its own,
/// and so does each console user creating tenants by sign-up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdempotencyScope {
    Operator,
    Tenant(TenantId),
    Signup(UserId),
}

/// What a creating request did, kept for [`IDEMPOTENCY_WINDOW_SECS`] under its
/// idempotency key, so that a retry is answered from it instead of creating again.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub scope: IdempotencyScope,
    /// SHA-256 of the client's key, hex: the key itself is not kept.
    pub key_digest: String,
    /// SHA-256 of the operation and its parameters, hex: the same key with another
    /// request is refused rather than answered with the first request's outcome.
    pub fingerprint: String,
    /// 32 random bytes, hex, from which the created keys' secrets were derived with the
    /// pepper (decision 106).
    pub seed: String,
    /// What it created: the tenant's id and then its keys' ids, or the one key's id.
    pub created: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl IdempotencyRecord {
    /// The digest a client's idempotency key is stored and found under.
    pub fn digest(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }
}

/// A new tenant with its first keys, and the idempotency record of the request.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantCreation {
    pub tenant: Tenant,
    pub keys: Vec<ApiKeyEntry>,
    pub idempotency: Option<IdempotencyRecord>,
    /// Recorded with the creation.
    pub event: Event,
    /// The member the tenant is created with (sign-up's owner), if any.
    pub owner: Option<FirstOwner>,
}

/// A tenant's first owner, written in its creation's step with the tenant's owner count
/// (one) and its own event: a tenant made by sign-up never exists without its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstOwner {
    /// Its role is [`crate::member::Role::Owner`].
    pub membership: Membership,
    pub event: Event,
}

/// A new key; for a rotation, also the key it replaces and when that one stops working.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCreation {
    pub key: ApiKeyEntry,
    pub replacing: Option<(ApiKeyId, Timestamp)>,
    pub idempotency: Option<IdempotencyRecord>,
    /// Recorded with the creation.
    pub event: Event,
}

/// How a creating write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The idempotency key is already recorded (a retry, possibly concurrent): nothing
    /// was written.
    IdempotencyKeyTaken,
    /// The tenant id is taken, now or ever before; or the key a rotation replaces is no
    /// longer live. Nothing was written.
    Conflict,
}

#[async_trait]
pub trait TenantRegistry: Send + Sync {
    /// Writes the tenant, its listing entry, its keys, the idempotency record and the first
    /// owner (membership both ways, owner count one), all or nothing: only if the tenant's
    /// id was never used (no tenant, no tombstone of a deleted one) and the idempotency key
    /// is not recorded.
    async fn create_tenant(&self, creation: &TenantCreation) -> Result<Written, StoreError>;

    /// Tenants that are not deleted, by id, after `after`, at most `limit`.
    async fn list_tenants(
        &self,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Page<Tenant>, StoreError>;

    /// Replaces the tenant (and its listing entry) if the stored one is at the revision
    /// before `tenant.revision` and not deleted, recording `event`. False otherwise, and
    /// nothing changed.
    async fn update_tenant(&self, tenant: &Tenant, event: &Event) -> Result<bool, StoreError>;

    /// Stores `tenant` (status deleted, `purge_at` set) under the same condition as
    /// [`TenantRegistry::update_tenant`], removes its listing entry and leaves a tombstone
    /// that keeps its id from being used again. The tenant record goes at `purge_at`.
    async fn delete_tenant(&self, tenant: &Tenant, event: &Event) -> Result<bool, StoreError>;

    /// Schedules every key of a deleted tenant to go at `purge_at`.
    async fn purge_api_keys_at(
        &self,
        tenant: &TenantId,
        purge_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Writes the key (found by its hash and listed under its tenant) and the idempotency
    /// record; for a rotation, in the same step, the replaced key's expiry, only if that
    /// key is still unrevoked.
    async fn create_api_key(&self, creation: &KeyCreation) -> Result<Written, StoreError>;

    /// The tenant's keys, newest first, after `after`, at most `limit`, with when each was
    /// last used.
    async fn list_api_keys(
        &self,
        tenant: &TenantId,
        after: Option<&ApiKeyId>,
        limit: usize,
    ) -> Result<Page<ApiKeyEntry>, StoreError>;

    async fn get_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKeyEntry>, StoreError>;

    /// Revokes the key (both its records) if it exists and is not revoked, recording
    /// `event`; false otherwise, and nothing changed.
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        now: Timestamp,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Notes that the key was used at `now`, unless a use in the last minute is noted
    /// already. Writable by every function that authenticates keys, which may not write
    /// tenant or key records.
    async fn record_key_use(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The idempotency record of a key in a scope, unless it has expired.
    async fn find_idempotency(
        &self,
        scope: &IdempotencyScope,
        key_digest: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
}

/// A key use is noted at most this often (a conditional write on the use item).
pub const KEY_USE_INTERVAL_SECS: i64 = 60;
