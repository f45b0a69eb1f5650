//! The embedded store: every store trait in process memory, with the same conditions and
//! expiry behaviour as the DynamoDB store. Each conditional operation runs under one lock,
//! which makes it atomic the way a DynamoDB conditional write or transaction is; a
//! [`crate::store::Change`]'s events join the outbox under the same lock. Used by the local
//! server and by fast tests; data lives as long as the process.

mod changes;
mod events;
mod members;
mod tenant_registry;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::challenge::{Challenge, ChallengeId, ChallengeOwner};
use crate::clock::Timestamp;
use crate::device::{Device, DeviceId};
use crate::event::{Event, RefusalReason};
use crate::identifier::Identifier;
use crate::registry::{IdempotencyRecord, IdempotencyScope};
use crate::secret::SecretHash;
use crate::store::{
    Admission, AttemptOutcome, ChallengeStore, CounterKey, CounterLimit, CounterStore,
    CounterValue, DeviceStore, FailureGate, FailureReservation, SessionStore, StoreError,
    TenantStore, UserStore,
};
use crate::tenant::{ApiKeyEntry, ApiKeyId, ApiKeyRecord, Tenant, TenantId};
use crate::token::{FamilyId, RefreshFamily};
use crate::user::{User, UserId};

pub use events::AUDIT_EVENTS_KEPT;

/// The tables that grow with sign-ins are B-trees: a hash map that doubles copies every
/// entry while holding the store's lock, which stalled all requests for tens of
/// milliseconds on a busy local server; a B-tree grows a node at a time.
#[derive(Default)]
struct Tables {
    challenges: BTreeMap<(TenantId, ChallengeId), Challenge>,
    counters: BTreeMap<String, (CounterValue, Timestamp)>,
    /// Keyed by the identifier's matching key.
    users_by_identifier: BTreeMap<(TenantId, String), User>,
    users_by_id: BTreeMap<(TenantId, UserId), User>,
    devices: BTreeMap<(TenantId, UserId, DeviceId), Device>,
    /// The sessions each device signed in, with their expiry; expired ones are dropped
    /// whenever the device signs in again.
    device_sessions: BTreeMap<(TenantId, UserId, DeviceId), BTreeMap<FamilyId, Timestamp>>,
    sessions: BTreeMap<(TenantId, FamilyId), RefreshFamily>,
    tenants: HashMap<TenantId, Tenant>,
    /// Ids of deleted tenants, never given out again.
    tombstones: HashSet<TenantId>,
    api_keys: HashMap<SecretHash, ApiKeyRecord>,
    /// Keys as their tenant lists them; in id (creation) order.
    key_entries: BTreeMap<(TenantId, ApiKeyId), ApiKeyEntry>,
    /// When a deleted tenant's keys go.
    keys_purged_at: HashMap<TenantId, Timestamp>,
    idempotency: HashMap<(IdempotencyScope, String), IdempotencyRecord>,
    members: BTreeMap<(TenantId, UserId), crate::member::Membership>,
    /// Invitations by the address's hash, then tenant.
    invitations: HashMap<(SecretHash, TenantId), crate::member::Invitation>,
    /// Events recorded with their changes and not yet delivered, oldest first.
    outbox: VecDeque<Event>,
    /// Refusals per tenant, reason and minute (the minute's start).
    refusals: HashMap<(TenantId, RefusalReason, Timestamp), u64>,
    /// Where each expiring table's sweep resumes (see [`sweep`]).
    challenges_swept: Option<(TenantId, ChallengeId)>,
    counters_swept: Option<String>,
    sessions_swept: Option<(TenantId, FamilyId)>,
}

/// Entries a write to an expiring table looks at for expired ones. Two per write makes the
/// sweep go round a table faster than writes grow it, so memory follows the live data
/// instead of every sign-in since start, without ever pausing for a whole-table scan.
const SWEEP_STEP: usize = 2;

/// Removes the expired entries among the next [`SWEEP_STEP`] after `resume_at` and moves it
/// on, wrapping round at the end: the embedded store's counterpart of DynamoDB deleting
/// items some time after their TTL. Reads already ignore expired entries; this frees them.
fn sweep<K: Ord + Clone, V>(
    table: &mut BTreeMap<K, V>,
    resume_at: &mut Option<K>,
    expired: impl Fn(&V) -> bool,
) {
    let mut entries = match resume_at.take() {
        Some(key) => table.range(key..),
        None => table.range(..),
    };
    let doomed: Vec<K> = entries
        .by_ref()
        .take(SWEEP_STEP)
        .filter(|(_, value)| expired(value))
        .map(|(key, _)| key.clone())
        .collect();
    *resume_at = entries.next().map(|(key, _)| key.clone());
    for key in doomed {
        table.remove(&key);
    }
}

/// All of AuthKit's storage in memory. Cheap to create: one per test.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    /// What the audit consumer kept: under its own lock, so delivering events never holds
    /// up sign-ins (see [`events`]).
    audit: Mutex<HashMap<TenantId, events::AuditEntries>>,
    clock: Option<std::sync::Arc<dyn crate::clock::Clock>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Uses `clock` to decide when items have passed their time to live, as DynamoDB does
    /// with its TTL attribute. Without one, the system clock.
    pub fn with_clock(clock: std::sync::Arc<dyn crate::clock::Clock>) -> MemoryStore {
        MemoryStore {
            clock: Some(clock),
            ..MemoryStore::default()
        }
    }

    fn now(&self) -> Timestamp {
        match &self.clock {
            Some(clock) => clock.now(),
            None => crate::clock::Clock::now(&crate::clock::SystemClock),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied change: every
        // operation checks first and writes last.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Tables {
    /// A live challenge: one not yet past its purge time (DynamoDB's TTL).
    fn live_challenge(
        &mut self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Option<&mut Challenge> {
        let key = (tenant.clone(), id.clone());
        if self
            .challenges
            .get(&key)
            .is_some_and(|c| now >= c.purge_at())
        {
            self.challenges.remove(&key);
        }
        self.challenges.get_mut(&key)
    }

    /// A counter's value unless it has expired.
    fn live_counter(&self, key: &str, now: Timestamp) -> Option<CounterValue> {
        self.counters
            .get(key)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(value, _)| *value)
    }

    /// Adds one to each counter (an expired one restarts).
    fn count_in(&mut self, keys: &[CounterKey], now: Timestamp) {
        for key in keys {
            let entry = self.counters.entry(key.key.clone()).or_insert((
                CounterValue {
                    count: 0,
                    updated_at: now,
                },
                key.expires_at,
            ));
            if now >= entry.1 {
                entry.0.count = 0;
            }
            entry.0.count += 1;
            entry.0.updated_at = now;
            entry.1 = key.expires_at;
        }
        sweep(&mut self.counters, &mut self.counters_swept, |c| now >= c.1);
    }
}

#[async_trait]
impl ChallengeStore for MemoryStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
    ) -> Result<Option<Challenge>, StoreError> {
        let now = self.now();
        Ok(self.lock().live_challenge(tenant, id, now).cloned())
    }

    async fn record_attempt(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<AttemptOutcome, StoreError> {
        let purge_now = self.now();
        let mut tables = self.lock();
        let Some(challenge) = tables.live_challenge(tenant, id, purge_now) else {
            return Ok(AttemptOutcome::NotFound);
        };
        if !challenge.accepts_attempt(now) {
            return Ok(AttemptOutcome::Refused(challenge.clone()));
        }
        challenge.attempts += 1;
        Ok(AttemptOutcome::Counted(challenge.clone()))
    }

    async fn erase_owned(
        &self,
        tenant: &TenantId,
        owners: &[ChallengeOwner],
    ) -> Result<(), StoreError> {
        // A scan under the lock: erasures are rare, and the embedded store serves one
        // machine; DynamoDB finds them through the owners' links.
        self.lock().challenges.retain(|(t, _), challenge| {
            t != tenant
                || !challenge
                    .owners()
                    .iter()
                    .any(|owner| owners.contains(owner))
        });
        Ok(())
    }
}

#[async_trait]
impl CounterStore for MemoryStore {
    async fn admit(
        &self,
        limits: &[CounterLimit],
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        let mut tables = self.lock();
        let at_limit: Vec<usize> = limits
            .iter()
            .enumerate()
            .filter(|(_, limit)| {
                tables
                    .live_counter(&limit.key.key, now)
                    .map_or(0, |value| value.count)
                    >= limit.max
            })
            .map(|(index, _)| index)
            .collect();
        if !at_limit.is_empty() {
            return Ok(Admission::Refused(at_limit));
        }
        let keys: Vec<CounterKey> = limits.iter().map(|limit| limit.key.clone()).collect();
        tables.count_in(&keys, now);
        Ok(Admission::Admitted)
    }

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError> {
        Ok(self.lock().live_counter(key, now))
    }

    async fn reserve_failure(&self, gate: &FailureGate) -> Result<FailureReservation, StoreError> {
        let mut tables = self.lock();
        if let Some(failures) = tables.live_counter(&gate.key.key, gate.now) {
            if !gate.admits(failures) {
                return Ok(FailureReservation::Locked(failures));
            }
        }
        tables.count_in(std::slice::from_ref(&gate.key), gate.now);
        let reserved = tables
            .live_counter(&gate.key.key, gate.now)
            .ok_or_else(|| StoreError::Corrupt("a counted failure is not live".into()))?;
        Ok(FailureReservation::Reserved(reserved))
    }

    async fn release_failure(&self, key: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tables = self.lock();
        if let Some((value, expires_at)) = tables.counters.get_mut(key) {
            if now < *expires_at {
                value.count = value.count.saturating_sub(1);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn find(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<User>, StoreError> {
        let key = (tenant.clone(), identifier.matching_key().to_owned());
        Ok(self.lock().users_by_identifier.get(&key).cloned())
    }

    async fn get(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self
            .lock()
            .users_by_id
            .get(&(tenant.clone(), id.clone()))
            .cloned())
    }

    async fn erase_belongings(&self, tenant: &TenantId, user: &UserId) -> Result<(), StoreError> {
        let mut tables = self.lock();
        let theirs = |(t, u, _): &(TenantId, UserId, DeviceId)| t == tenant && u == user;
        tables.devices.retain(|key, _| !theirs(key));
        tables.device_sessions.retain(|key, _| !theirs(key));
        tables
            .sessions
            .retain(|(t, _), family| !(t == tenant && &family.user_id == user));
        Ok(())
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn get(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        Ok(self
            .lock()
            .devices
            .get(&(tenant.clone(), user.clone(), id.clone()))
            .cloned())
    }

    async fn list(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Device>, StoreError> {
        let tables = self.lock();
        let mut devices: Vec<Device> = tables
            .devices
            .iter()
            .filter(|((t, u, _), _)| t == tenant && u == user)
            .map(|(_, device)| device.clone())
            .collect();
        devices.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(devices)
    }

    async fn sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
        now: Timestamp,
    ) -> Result<Vec<FamilyId>, StoreError> {
        let tables = self.lock();
        let key = (tenant.clone(), user.clone(), id.clone());
        Ok(tables
            .device_sessions
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|(_, expires_at)| now < **expires_at)
            .map(|(family, _)| family.clone())
            .collect())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        let now = self.now();
        Ok(self
            .lock()
            .sessions
            .get(&(tenant.clone(), id.clone()))
            .filter(|family| now < family.expires_at)
            .cloned())
    }

    async fn list(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        // A scan under the lock: the tenant's admin reads are rare, and the embedded store
        // serves one machine.
        let mut families: Vec<RefreshFamily> = self
            .lock()
            .sessions
            .iter()
            .filter(|((t, _), family)| {
                t == tenant && &family.user_id == user && now < family.expires_at
            })
            .map(|(_, family)| family.clone())
            .collect();
        families.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(families)
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.lock()
            .tenants
            .insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let now = self.now();
        Ok(self
            .lock()
            .tenants
            .get(id)
            .filter(|tenant| tenant.purge_at.is_none_or(|purge_at| now < purge_at))
            .cloned())
    }

    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.lock().api_keys.insert(key.hash, key.clone());
        Ok(())
    }

    async fn find_api_key(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let now = self.now();
        let tables = self.lock();
        Ok(tables
            .api_keys
            .get(hash)
            .filter(|record| !tables.keys_purged(&record.tenant, now))
            .cloned())
    }
}

impl MemoryStore {
    /// One store serving as every store of [`crate::store::Stores`]; keep the `Arc` to
    /// deliver its pending events ([`crate::event::PendingEvents`]).
    pub fn into_stores(self) -> crate::store::Stores {
        std::sync::Arc::new(self).stores()
    }

    /// Every store of [`crate::store::Stores`], served by this one.
    pub fn stores(self: std::sync::Arc<Self>) -> crate::store::Stores {
        crate::store::Stores {
            changes: self.clone(),
            challenges: self.clone(),
            counters: self.clone(),
            users: self.clone(),
            devices: self.clone(),
            sessions: self.clone(),
            tenants: self.clone(),
            registry: self.clone(),
            members: self.clone(),
            audit: self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_goes_round_the_table_and_frees_only_expired_entries() {
        // Each value is its entry's expiry time; at time 50, entries 0..=50 have expired.
        let mut table: BTreeMap<u32, u32> = (0..100).map(|k| (k, k)).collect();
        let mut resume_at = None;
        for _ in 0..50 {
            sweep(&mut table, &mut resume_at, |expiry| 50 >= *expiry);
        }
        assert_eq!(
            table.keys().copied().collect::<Vec<_>>(),
            (51..100).collect::<Vec<_>>()
        );
        assert_eq!(resume_at, None, "one lap done, the next starts over");
        sweep(&mut table, &mut resume_at, |expiry| 60 >= *expiry);
        assert_eq!(
            table.keys().next(),
            Some(&53),
            "the second lap starts at the front"
        );
    }

    #[tokio::test]
    async fn expired_counters_are_freed_as_new_ones_are_written() {
        let store = MemoryStore::new();
        let limit = |name: String, expires_at| CounterLimit {
            key: CounterKey {
                key: name,
                expires_at: Timestamp(expires_at),
            },
            max: 10,
        };
        for i in 0..100 {
            let old = limit(format!("old{i}"), 1_000);
            store.admit(&[old], Timestamp(500)).await.unwrap();
        }
        for i in 0..100 {
            let new = limit(format!("new{i}"), 5_000);
            store.admit(&[new], Timestamp(2_000)).await.unwrap();
        }
        let tables = store.lock();
        assert_eq!(tables.counters.len(), 100);
        assert!(tables.counters.keys().all(|key| key.starts_with("new")));
    }
}
