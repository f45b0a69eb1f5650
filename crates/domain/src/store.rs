//! The storage the domain needs, as traits adapters implement (DynamoDB, embedded).
//!
//! Reads and the few single-item writes whose answer the domain needs (counting an answer,
//! admitting a request) are methods of their own. Every other state change is a
//! [`Change`]: a set of conditional [`Write`]s and the domain [`Event`]s that record them,
//! applied as one atomic step (one DynamoDB transaction, one critical section in the
//! embedded store): every write and every event, or nothing. So an event can never be lost
//! after its change, nor recorded for a change that did not happen, and a sign-in's
//! verification, user, session and events cost one round trip. The conditions themselves
//! are defined on the domain types (`Challenge::accepts_verification` and friends) so both
//! stores check the same.

use async_trait::async_trait;

use crate::audit::{AuditPage, AuditQuery};
use crate::challenge::{Challenge, ChallengeId, ChallengeOwner};
use crate::clock::Timestamp;
use crate::device::{Device, DeviceId};
use crate::event::{Event, RefusalReason};
use crate::identifier::Identifier;
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

/// One conditional write of a [`Change`]. Each names the condition it is applied under;
/// a write whose condition does not hold fails the whole change.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A new challenge; its id must be free.
    InsertChallenge(Challenge),
    /// `Pending → Verified` while `Challenge::accepts_verification(now)`, keeping a magic
    /// link's exchange hash.
    VerifyChallenge {
        tenant: TenantId,
        id: ChallengeId,
        exchange_hash: Option<SecretHash>,
        now: Timestamp,
    },
    /// `Verified → Consumed` while `Challenge::accepts_consumption(now)`.
    ConsumeChallenge {
        tenant: TenantId,
        id: ChallengeId,
        now: Timestamp,
    },
    /// `Pending → Superseded` while `Challenge::accepts_resend(now)`: a resend replaces it.
    SupersedeChallenge {
        tenant: TenantId,
        id: ChallengeId,
        now: Timestamp,
    },
    /// A pending challenge whose message could not be sent may be resent from `now` on.
    AllowResend {
        tenant: TenantId,
        id: ChallengeId,
        now: Timestamp,
    },
    /// A new user, under its identifiers and its id; none may exist.
    InsertUser(User),
    /// The identifier signed in with (`by`) still names this user, who is not disabled:
    /// then records the sign-in (`last_sign_in_at`, and `phone_used_at` when `by` is a
    /// phone number) on every item of the user.
    KeepUser {
        user: User,
        by: Identifier,
        at: Timestamp,
    },
    /// A recycled phone number: its identifier item moves from `previous` (who must still
    /// hold it) to the new user `next` (whose id must be free); what stays of `previous`
    /// is [`User::after_phone_reassigned`], on their item by id and their other
    /// identifier's.
    ReassignIdentifier {
        previous: User,
        next: User,
        at: Timestamp,
    },
    /// Only a condition: the user (by id) exists and is not disabled.
    KeepUserEnabled { tenant: TenantId, user: UserId },
    /// Sets (`Some`) or clears (`None`) `disabled_at` on a user that exists, under its id
    /// and under each of its identifiers, which must still name it.
    SetUserDisabled {
        user: User,
        disabled_at: Option<Timestamp>,
    },
    /// Removes a user that exists, under its id and its identifiers.
    DeleteUser(User),
    /// Moves an enabled user from the identifiers of `user` (as read; still theirs, and
    /// still all they hold) to those of `next`: items of new identifiers must be free,
    /// items of dropped ones are removed, and every item of the user takes `next`'s
    /// identifiers and sign-in times.
    SetIdentifiers { user: User, next: User },
    /// A new session (refresh family); its id must be free.
    InsertSession(RefreshFamily),
    /// Replaces the current token hash while it is still `expected` and the family is not
    /// revoked; bumps the generation and sets `rotated_at` to `now`.
    RotateSession {
        tenant: TenantId,
        id: FamilyId,
        expected: SecretHash,
        next: SecretHash,
        now: Timestamp,
    },
    /// Sets `revoked_at` (unless already set) on a family that exists.
    RevokeSession {
        tenant: TenantId,
        id: FamilyId,
        now: Timestamp,
    },
    /// A new device; its id must be free.
    InsertDevice(Device),
    /// Sets `revoked_at` on a device that exists and is active.
    RevokeDevice {
        tenant: TenantId,
        user: UserId,
        id: DeviceId,
        now: Timestamp,
    },
    /// On a device that exists and is not revoked: sets `last_seen` and links the session
    /// it opened, so that revoking the device finds the session.
    RecordDeviceSignIn(DeviceSignIn),
    /// Forgets a counter.
    ResetCounter { key: String },
    /// Adds `count` to one minute's refusals for one reason. Its event is the count itself:
    /// the store records [`Event::refusals`] with the new total.
    AddRefusals {
        tenant: TenantId,
        reason: RefusalReason,
        minute: Timestamp,
        count: u64,
    },
}

/// Writes and the events that record them, applied atomically.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    pub writes: Vec<Write>,
    pub events: Vec<Event>,
}

/// What [`ChangeStore::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Every write and every event.
    Done,
    /// Nothing: the conditions of the writes at these indexes (never none) did not hold.
    Refused(Vec<usize>),
}

impl Applied {
    /// True when the write at `index` is one whose condition did not hold.
    pub fn refused(&self, index: usize) -> bool {
        matches!(self, Applied::Refused(failed) if failed.contains(&index))
    }
}

#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Applies every write and records every event of `change`, or nothing. A change never
    /// writes one item twice.
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError>;

    /// An event recorded with a change, while the store still holds it (DynamoDB: a day;
    /// embedded: until it is delivered), read strongly consistent. The service asks it
    /// whether a change the store reported failed was applied all the same; also for
    /// support and the store suite.
    async fn recorded_event(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Event>, StoreError>;
}

#[async_trait]
pub trait ChallengeStore: Send + Sync {
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

    /// Deletes every challenge one of whose [`Challenge::owners`] is in `owners`, whatever
    /// its state, with what finds it. Idempotent. Challenges written before owners were
    /// recorded are not found (they go with their TTL).
    async fn erase_owned(
        &self,
        tenant: &TenantId,
        owners: &[ChallengeOwner],
    ) -> Result<(), StoreError>;
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

/// When an identifier's consecutive failures let one more answer be judged: below `cap`,
/// or past it once the lock has run out. A count of `cap + k` is unlocked when its last
/// failure was at or before `unlocked_if_counted_by[k]`; the last entry holds for every
/// higher count (the lock's ceiling).
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGate {
    /// Where the failures are counted, and until when a new count is remembered.
    pub key: CounterKey,
    pub cap: u64,
    pub unlocked_if_counted_by: Vec<Timestamp>,
    pub now: Timestamp,
}

impl FailureGate {
    /// Whether `failures` (live ones) let another answer through.
    pub fn admits(&self, failures: CounterValue) -> bool {
        let Some(past_cap) = failures.count.checked_sub(self.cap) else {
            return true;
        };
        let last = self.unlocked_if_counted_by.len().saturating_sub(1);
        let index = usize::try_from(past_cap).map_or(last, |k| k.min(last));
        self.unlocked_if_counted_by
            .get(index)
            .is_some_and(|by| failures.updated_at <= *by)
    }
}

/// What reserving a failure found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReservation {
    /// Counted, before the answer is judged: the failures including this answer.
    Reserved(CounterValue),
    /// The identifier is locked: its failures as they are, nothing counted.
    Locked(CounterValue),
}

#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Counts one request in every counter when each is below its max, else in none (a
    /// refused request spends no budget). Exact in one step in the embedded store; the
    /// DynamoDB store writes the counters in parallel and takes back the ones a refusal
    /// left counted, so a refusal can hold a unit of another counter's budget for the
    /// length of one request, and it remembers a counter it found full until the counter's
    /// window ends, so that a flood against a full limit costs no writes
    /// (docs/data-model.md).
    async fn admit(&self, limits: &[CounterLimit], now: Timestamp)
        -> Result<Admission, StoreError>;

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError>;

    /// Counts one more failure for an answer about to be judged, if `gate` admits it, in
    /// one atomic step: answers arriving together one short of the cap cannot all pass,
    /// and none is lost to contention. A count past its expiry starts again at one.
    async fn reserve_failure(&self, gate: &FailureGate) -> Result<FailureReservation, StoreError>;

    /// Gives back a reserved failure whose answer was not judged after all (refused by a
    /// rate limit or by its challenge). Nothing to give back (reset meanwhile) is fine.
    async fn release_failure(&self, key: &str, now: Timestamp) -> Result<(), StoreError>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user an identifier names in a tenant (matched by its case-folded key).
    async fn find(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<User>, StoreError>;

    async fn get(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError>;

    /// Removes everything kept about a user beside the user itself: their devices (with
    /// their session links) and their sessions. Idempotent; the user goes with
    /// [`Write::DeleteUser`], whose change records the erasure.
    async fn erase_belongings(&self, tenant: &TenantId, user: &UserId) -> Result<(), StoreError>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    async fn get(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError>;

    /// Active and revoked devices of a user, oldest first.
    async fn list(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Device>, StoreError>;

    /// The sessions linked to a device by [`Write::RecordDeviceSignIn`] that have not
    /// expired.
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
    async fn get(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
    ) -> Result<Option<RefreshFamily>, StoreError>;

    /// A user's sessions that have not expired, revoked ones included, oldest first.
    async fn list(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RefreshFamily>, StoreError>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates or replaces a tenant.
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    async fn find_api_key(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError>;
}

/// Where the audit consumer keeps events ([`crate::audit`]).
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Keeps `events`, idempotently: an event recorded again (same tenant and id) leaves
    /// one entry, and a refusal count keeps its largest count.
    async fn record(&self, events: &[Event]) -> Result<(), StoreError>;

    /// One page of the tenant's entries that `query` selects, newest first: at most
    /// `query.limit`, and whether more follow.
    async fn query(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        now: Timestamp,
    ) -> Result<AuditPage, StoreError>;

    /// Rewrites every entry about `user` recorded since `since`: the user id becomes
    /// `pseudonym`, the masked identifier and the address are dropped. Idempotent.
    async fn pseudonymise(
        &self,
        tenant: &TenantId,
        user: &UserId,
        pseudonym: &UserId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The tenant's newest entries first, at most `limit`, from the last 7 days.
    async fn recent(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let query = AuditQuery::between(now.plus_secs(-7 * 86_400), now, limit);
        Ok(self
            .query(tenant, &query, now)
            .await?
            .entries
            .into_iter()
            .map(|(_, event)| event)
            .collect())
    }

    /// Readiness probe: can the store be reached at all?
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Every store the service uses, chosen together by configuration.
#[derive(Clone)]
pub struct Stores {
    pub changes: std::sync::Arc<dyn ChangeStore>,
    pub challenges: std::sync::Arc<dyn ChallengeStore>,
    pub counters: std::sync::Arc<dyn CounterStore>,
    pub users: std::sync::Arc<dyn UserStore>,
    pub devices: std::sync::Arc<dyn DeviceStore>,
    pub sessions: std::sync::Arc<dyn SessionStore>,
    pub tenants: std::sync::Arc<dyn TenantStore>,
    pub registry: std::sync::Arc<dyn crate::registry::TenantRegistry>,
    pub members: std::sync::Arc<dyn crate::member::MemberRegistry>,
    pub audit: std::sync::Arc<dyn AuditLog>,
}
