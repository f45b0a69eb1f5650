//! The embedded store: every store trait in process memory, with the same conditions and
//! expiry behaviour as the DynamoDB store. Each conditional operation runs under one lock,
//! which makes it atomic the way a DynamoDB conditional write is. Used by the local server
//! and by fast tests; data lives as long as the process.

mod tenant_registry;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::challenge::{Challenge, ChallengeId, ChallengeState};
use crate::clock::Timestamp;
use crate::device::{Device, DeviceId};
use crate::registry::{IdempotencyRecord, IdempotencyScope};
use crate::secret::SecretHash;
use crate::store::{
    Admission, AttemptOutcome, AuditLog, ChallengeStore, CounterKey, CounterLimit, CounterStore,
    CounterValue, DeviceSignIn, DeviceStore, SessionStore, StoreError, TenantStore, UserStore,
};
use crate::tenant::{ApiKeyEntry, ApiKeyId, ApiKeyRecord, Tenant, TenantId};
use crate::token::{FamilyId, RefreshFamily};
use crate::user::{User, UserId};

/// The tables that grow with sign-ins are B-trees: a hash map that doubles copies every
/// entry while holding the store's lock, which stalled all requests for tens of
/// milliseconds on a busy local server; a B-tree grows a node at a time.
#[derive(Default)]
struct Tables {
    challenges: BTreeMap<(TenantId, ChallengeId), Challenge>,
    counters: BTreeMap<String, (CounterValue, Timestamp)>,
    /// Keyed by the normalised identifier's text.
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

/// How many audit events per tenant the embedded store keeps (DynamoDB keeps 90 days).
pub const AUDIT_EVENTS_KEPT: usize = 10_000;

/// All of AuthKit's storage in memory. Cheap to create: one per test.

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    /// Audit events per tenant, newest last, the last [`AUDIT_EVENTS_KEPT`] only: under its own
    /// lock, and bounded, so a busy local server neither grows without limit nor stalls
    /// sign-ins while a huge log reallocates.
    audit: Mutex<HashMap<TenantId, VecDeque<AuditEvent>>>,
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
        // operation computes first and writes last.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A live challenge: one not yet past its purge time (DynamoDB's TTL).
    fn live_challenge<'t>(
        &self,
        tables: &'t mut Tables,
        tenant: &TenantId,
        id: &ChallengeId,
    ) -> Option<&'t mut Challenge> {
        let now = self.now();
        let key = (tenant.clone(), id.clone());
        if tables
            .challenges
            .get(&key)
            .is_some_and(|c| now >= c.purge_at())
        {
            tables.challenges.remove(&key);
        }
        tables.challenges.get_mut(&key)
    }
}

#[async_trait]
impl ChallengeStore for MemoryStore {
    async fn insert(&self, challenge: &Challenge) -> Result<(), StoreError> {
        let now = self.now();
        let mut tables = self.lock();
        let tables = &mut *tables;
        let key = (challenge.tenant.clone(), challenge.id.clone());
        if tables.challenges.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        tables.challenges.insert(key, challenge.clone());
        sweep(&mut tables.challenges, &mut tables.challenges_swept, |c| {
            now >= c.purge_at()
        });
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
    ) -> Result<Option<Challenge>, StoreError> {
        let mut tables = self.lock();
        Ok(self.live_challenge(&mut tables, tenant, id).cloned())
    }

    async fn record_attempt(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<AttemptOutcome, StoreError> {
        let mut tables = self.lock();
        let Some(challenge) = self.live_challenge(&mut tables, tenant, id) else {
            return Ok(AttemptOutcome::NotFound);
        };
        if !challenge.accepts_attempt(now) {
            return Ok(AttemptOutcome::Refused(challenge.clone()));
        }
        challenge.attempts += 1;
        Ok(AttemptOutcome::Counted(challenge.clone()))
    }

    async fn mark_verified(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        exchange_hash: Option<SecretHash>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match self.live_challenge(&mut tables, tenant, id) {
            Some(challenge) if challenge.accepts_verification(now) => {
                challenge.state = ChallengeState::Verified;
                challenge.exchange_hash = exchange_hash;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_consumed(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match self.live_challenge(&mut tables, tenant, id) {
            Some(challenge) if challenge.accepts_consumption(now) => {
                challenge.state = ChallengeState::Consumed;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_undelivered(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        if let Some(challenge) = self.live_challenge(&mut tables, tenant, id) {
            if challenge.state == ChallengeState::Pending {
                challenge.state = ChallengeState::Undelivered;
            }
        }
        Ok(())
    }

    async fn supersede(
        &self,
        old: &Challenge,
        new: &Challenge,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let new_key = (new.tenant.clone(), new.id.clone());
        if tables.challenges.contains_key(&new_key) {
            return Err(StoreError::AlreadyExists);
        }
        match self.live_challenge(&mut tables, &old.tenant, &old.id) {
            Some(current) if current.accepts_resend(now) => {
                current.state = ChallengeState::Superseded;
                tables.challenges.insert(new_key, new.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Adds one to each counter (an expired one restarts), under the caller's lock.
fn count_in(tables: &mut Tables, keys: &[CounterKey], now: Timestamp) -> Vec<u64> {
    let counts = keys
        .iter()
        .map(|key| {
            let entry = tables.counters.entry(key.key.clone()).or_insert((
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
            entry.0.count
        })
        .collect();
    sweep(&mut tables.counters, &mut tables.counters_swept, |c| {
        now >= c.1
    });
    counts
}

#[async_trait]
impl CounterStore for MemoryStore {
    async fn increment(&self, keys: &[CounterKey], now: Timestamp) -> Result<Vec<u64>, StoreError> {
        Ok(count_in(&mut self.lock(), keys, now))
    }

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
                let live = tables
                    .counters
                    .get(&limit.key.key)
                    .filter(|(_, expires_at)| now < *expires_at)
                    .map_or(0, |(value, _)| value.count);
                live >= limit.max
            })
            .map(|(index, _)| index)
            .collect();
        if !at_limit.is_empty() {
            return Ok(Admission::Refused(at_limit));
        }
        let keys: Vec<CounterKey> = limits.iter().map(|limit| limit.key.clone()).collect();
        count_in(&mut tables, &keys, now);
        Ok(Admission::Admitted)
    }

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError> {
        let tables = self.lock();
        Ok(tables
            .counters
            .get(key)
            .filter(|(_, expires_at)| now < *expires_at)
            .map(|(value, _)| *value))
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.lock().counters.remove(key);
        Ok(())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn find_or_create(&self, candidate: &User) -> Result<(User, bool), StoreError> {
        let mut tables = self.lock();
        let key = (
            candidate.tenant.clone(),
            candidate.identifier.matching_key().to_owned(),
        );
        if let Some(existing) = tables.users_by_identifier.get(&key) {
            return Ok((existing.clone(), false));
        }
        tables.users_by_identifier.insert(key, candidate.clone());
        tables.users_by_id.insert(
            (candidate.tenant.clone(), candidate.id.clone()),
            candidate.clone(),
        );
        Ok((candidate.clone(), true))
    }

    async fn get(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self
            .lock()
            .users_by_id
            .get(&(tenant.clone(), id.clone()))
            .cloned())
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert(&self, device: &Device) -> Result<(), StoreError> {
        let mut tables = self.lock();
        let key = (
            device.tenant.clone(),
            device.user_id.clone(),
            device.id.clone(),
        );
        if tables.devices.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        tables.devices.insert(key, device.clone());
        Ok(())
    }

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

    async fn revoke(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match tables
            .devices
            .get_mut(&(tenant.clone(), user.clone(), id.clone()))
        {
            Some(device) if device.is_active() => {
                device.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_sign_in(&self, sign_in: &DeviceSignIn) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        let tables = &mut *tables;
        let key = (
            sign_in.tenant.clone(),
            sign_in.user.clone(),
            sign_in.device.clone(),
        );
        match tables.devices.get_mut(&key) {
            Some(device) if device.is_active() => device.last_seen = sign_in.at,
            _ => return Ok(false),
        }
        let sessions = tables.device_sessions.entry(key).or_default();
        sessions.retain(|_, expires_at| sign_in.at < *expires_at);
        sessions.insert(sign_in.family.clone(), sign_in.session_expires_at);
        Ok(true)
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
    async fn insert(&self, family: &RefreshFamily) -> Result<(), StoreError> {
        let now = self.now();
        let mut tables = self.lock();
        let tables = &mut *tables;
        let key = (family.tenant.clone(), family.id.clone());
        if tables.sessions.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        tables.sessions.insert(key, family.clone());
        sweep(&mut tables.sessions, &mut tables.sessions_swept, |f| {
            now >= f.expires_at
        });
        Ok(())
    }

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

    async fn rotate(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
        expected: &SecretHash,
        next: &SecretHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tables = self.lock();
        match tables.sessions.get_mut(&(tenant.clone(), id.clone())) {
            Some(family) if family.revoked_at.is_none() && family.current_hash == *expected => {
                family.current_hash = *next;
                family.generation += 1;
                family.rotated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(family) = self.lock().sessions.get_mut(&(tenant.clone(), id.clone())) {
            family.revoked_at.get_or_insert(now);
        }
        Ok(())
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

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut audit = self
            .audit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let events = audit.entry(event.tenant.clone()).or_default();
        if events.len() == AUDIT_EVENTS_KEPT {
            events.pop_front();
        }
        events.push_back(event.clone());
        Ok(())
    }

    async fn recent(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let audit = self
            .audit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(events) = audit.get(tenant) else {
            return Ok(Vec::new());
        };
        Ok(events
            .iter()
            .rev()
            .filter(|e| now < e.purge_at())
            .take(limit)
            .cloned()
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl MemoryStore {
    /// One store serving as every store of [`crate::store::Stores`].
    pub fn into_stores(self) -> crate::store::Stores {
        let store = std::sync::Arc::new(self);
        crate::store::Stores {
            challenges: store.clone(),
            counters: store.clone(),
            users: store.clone(),
            devices: store.clone(),
            sessions: store.clone(),
            tenants: store.clone(),
            registry: store.clone(),
            audit: store,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditKind, Outcome};

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
        let counter = |name: String, expires_at| CounterKey {
            key: name,
            expires_at: Timestamp(expires_at),
        };
        for i in 0..100 {
            let key = counter(format!("old{i}"), 1_000);
            store.increment(&[key], Timestamp(500)).await.unwrap();
        }
        for i in 0..100 {
            let key = counter(format!("new{i}"), 5_000);
            store.increment(&[key], Timestamp(2_000)).await.unwrap();
        }
        let tables = store.lock();
        assert_eq!(tables.counters.len(), 100);
        assert!(tables.counters.keys().all(|key| key.starts_with("new")));
    }

    #[tokio::test]
    async fn the_audit_log_keeps_the_newest_events_up_to_its_bound() {
        let store = MemoryStore::new();
        let tenant = TenantId::parse("acme").unwrap();
        for i in 0..AUDIT_EVENTS_KEPT + 5 {
            let event = AuditEvent {
                id: format!("e{i}"),
                tenant: tenant.clone(),
                at: Timestamp(1_000),
                kind: AuditKind::ChallengeStarted,
                outcome: Outcome::Success,
                user_id: None,
                challenge_id: None,
                device_id: None,
                ip: None,
                identifier: None,
                channel: None,
                detail: None,
            };
            store.append(&event).await.unwrap();
        }
        let all = store
            .recent(&tenant, Timestamp(1_001), usize::MAX)
            .await
            .unwrap();
        assert_eq!(all.len(), AUDIT_EVENTS_KEPT);
        assert_eq!(
            all.first().map(|e| e.id.as_str()),
            Some(format!("e{}", AUDIT_EVENTS_KEPT + 4).as_str())
        );
        assert_eq!(all.last().map(|e| e.id.as_str()), Some("e5"));
    }
}
