//! One tenant at 10,000 sign-ins a second: how many writes each stored item takes. A
//! DynamoDB partition key takes about 1,000 writes a second; AuthKit keeps every key under
//! half of that (docs/performance.md, "Scale past one partition").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::testing::Harness;
use super::{Caller, RequestedKind, StartRequest};
use crate::clock::{OsRandomness, Timestamp};
use crate::event::Event;
use crate::identifier::Identifier;
use crate::rate_limit::{Action, Limit, RateLimitPolicy, Scope, Subject, SHARD_CAPACITY};
use crate::secret::Pepper;
use crate::store::{
    Admission, Applied, Change, ChangeStore, CounterLimit, CounterStore, CounterValue, FailureGate,
    FailureReservation, StoreError, Stores, Write,
};
use crate::tenant::{TenantId, TenantPolicy};

/// The harness's store, counting the writes each item takes (as DynamoDB keys them: a
/// counter, a challenge, a user, a session, an event).
struct Counting {
    stores: Stores,
    writes: Mutex<HashMap<String, u64>>,
}

impl Counting {
    fn count(&self, keys: impl IntoIterator<Item = String>) {
        let mut writes = self.writes.lock().unwrap();
        for key in keys {
            *writes.entry(key).or_default() += 1;
        }
    }

    /// The most-written keys, most first.
    fn hottest(&self, n: usize) -> Vec<(String, u64)> {
        let mut writes: Vec<(String, u64)> = self
            .writes
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        writes.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        writes.truncate(n);
        writes
    }
}

/// The items of a user: by id and by each identifier.
fn user_items(user: &crate::user::User) -> Vec<String> {
    std::iter::once(format!("user {}", user.id))
        .chain(
            user.identifiers()
                .into_iter()
                .map(|identifier| format!("user {}", identifier.matching_key())),
        )
        .collect()
}

fn keys_of(write: &Write) -> Vec<String> {
    match write {
        Write::InsertChallenge(c) => vec![format!("challenge {}", c.id)],
        Write::VerifyChallenge { id, .. }
        | Write::ConsumeChallenge { id, .. }
        | Write::SupersedeChallenge { id, .. }
        | Write::AllowResend { id, .. } => vec![format!("challenge {id}")],
        Write::InsertUser(user)
        | Write::KeepUser { user, .. }
        | Write::SetUserDisabled { user, .. }
        | Write::DeleteUser(user) => user_items(user),
        Write::ReassignIdentifier {
            previous, next, at, ..
        } => {
            let mut keys = user_items(&previous.after_phone_reassigned(*at));
            keys.extend(user_items(next));
            keys
        }
        Write::KeepUserEnabled { user, .. } => vec![format!("user {user}")],
        Write::SetIdentifiers { user, next } => {
            let mut keys = user_items(user);
            keys.extend(user_items(next));
            keys.sort();
            keys.dedup();
            keys
        }
        Write::InsertSession(family) => vec![
            format!("session {}", family.id),
            format!("link {}", family.id),
        ],
        Write::RotateSession { id, .. } | Write::RevokeSession { id, .. } => {
            vec![format!("session {id}")]
        }
        Write::InsertDevice(device) => vec![format!("device {}", device.id)],
        Write::RevokeDevice { id, .. } => vec![format!("device {id}")],
        Write::RecordDeviceSignIn(sign_in) => vec![
            format!("device {}", sign_in.device),
            format!("link {}", sign_in.family),
        ],
        Write::ResetCounter { key } => vec![format!("counter {key}")],
        Write::AddRefusals {
            tenant,
            reason,
            minute,
            ..
        } => vec![format!(
            "refusals {tenant} {} {}",
            reason.as_str(),
            minute.0
        )],
    }
}

#[async_trait]
impl ChangeStore for Counting {
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        self.count(change.writes.iter().flat_map(keys_of));
        self.count(change.events.iter().map(|e| format!("event {}", e.id)));
        self.stores.changes.apply(change).await
    }

    async fn recorded_event(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        self.stores.changes.recorded_event(tenant, id).await
    }
}

#[async_trait]
impl CounterStore for Counting {
    async fn admit(
        &self,
        limits: &[CounterLimit],
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        self.count(limits.iter().map(|l| format!("counter {}", l.key.key)));
        self.stores.counters.admit(limits, now).await
    }

    async fn get(&self, key: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError> {
        self.stores.counters.get(key, now).await
    }

    async fn reserve_failure(&self, gate: &FailureGate) -> Result<FailureReservation, StoreError> {
        self.count([format!("counter {}", gate.key.key)]);
        self.stores.counters.reserve_failure(gate).await
    }

    async fn release_failure(&self, key: &str, now: Timestamp) -> Result<(), StoreError> {
        self.count([format!("counter {key}")]);
        self.stores.counters.release_failure(key, now).await
    }
}

/// Enough for 10,000 sign-ins a second, all sending SMS to one country and prefix.
fn busy_tenant() -> TenantPolicy {
    const HOUR: u32 = 3600;
    let lifted = |scope| Limit {
        scope,
        max: 36_000_000,
        window_secs: HOUR,
    };
    let mut policy = TenantPolicy::default();
    policy.rate_limits.start = vec![
        Limit {
            scope: Scope::Ip,
            max: 30,
            window_secs: 600,
        },
        Limit {
            scope: Scope::Identifier,
            max: 5,
            window_secs: 600,
        },
        lifted(Scope::PhonePrefix),
        lifted(Scope::PhoneCountry),
        lifted(Scope::Tenant),
    ];
    policy
}

#[tokio::test]
async fn ten_thousand_sign_ins_in_one_second_write_no_key_more_than_its_partition_budget() {
    const SIGN_INS: u32 = 10_000;
    let h = Harness::with_policy(busy_tenant()).await;
    let counting = Arc::new(Counting {
        stores: h.stores.clone(),
        writes: Mutex::default(),
    });
    let authkit = h.service_over(Stores {
        changes: counting.clone(),
        counters: counting.clone(),
        ..h.stores.clone()
    });
    // One second of load: the clock does not move.
    for i in 0..SIGN_INS {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        let caller = Caller {
            tenant: &h.tenant,
            ip: Some(&ip),
        };
        let phone = format!("+4479111{i:05}");
        let request = StartRequest {
            identifier: &phone,
            channel: None,
            kind: RequestedKind::Code,
            redirect_uri: None,
            code_challenge: None,
            response_mode: Default::default(),
        };
        let started = authkit.start_sign_in(caller, request).await.unwrap();
        authkit
            .sign_in_with_answer(caller, started.id.as_str(), &h.sender.last_secret())
            .await
            .unwrap();
    }
    let hottest = counting.hottest(5);
    let (key, writes) = &hottest[0];
    assert!(
        *writes <= u64::from(SHARD_CAPACITY / 2),
        "{key} took {writes} writes in one second: {hottest:?}"
    );
    assert!(
        hottest.iter().all(|(key, _)| key.contains("#s")),
        "the hottest keys are shards of the shared counters: {hottest:?}"
    );
}

#[tokio::test]
async fn a_sharded_limit_admits_at_most_its_max_and_refuses_early_only_near_it() {
    const MAX: u32 = 20_000;
    let h = Harness::new().await;
    let policy = RateLimitPolicy {
        start: vec![Limit {
            scope: Scope::Tenant,
            max: MAX,
            window_secs: 3600,
        }],
        ..RateLimitPolicy::default()
    };
    let pepper = Pepper::generate(&OsRandomness);
    let identifier = Identifier::parse("a@example.com", None).unwrap();
    let subject = Subject {
        tenant: &h.tenant.id,
        ip: None,
        identifier: Some(&identifier),
        device: None,
    };
    let now = h.clock_now();
    let mut admitted = 0u32;
    let mut first_refusal = None;
    // A quarter more demand than the limit, spread over its shards at random.
    for _ in 0..MAX + MAX / 4 {
        let [_, shared] = policy.tiers(Action::Start, subject, now, &pepper, &OsRandomness);
        let limits: Vec<CounterLimit> = shared.iter().map(|c| c.counter.clone()).collect();
        match h.stores.counters.admit(&limits, now).await.unwrap() {
            Admission::Admitted => admitted += 1,
            Admission::Refused(_) => {
                first_refusal.get_or_insert(admitted);
            }
        }
    }
    assert_eq!(admitted, MAX, "every shard filled, none overfilled");
    let first_refusal = f64::from(first_refusal.unwrap()) / f64::from(MAX);
    // The first refusal comes at about 91% of the limit (83-95% in 200 simulated runs).
    assert!(
        first_refusal > 0.75,
        "refusals began at {:.0}% of the limit",
        first_refusal * 100.0
    );
}
