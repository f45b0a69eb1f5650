//! Counters: rate-limit admission, and identifiers' failure counts.

use super::{apply, now, tenant};
use crate::clock::Timestamp;
use crate::store::{
    Admission, Applied, CounterKey, CounterLimit, CounterValue, FailureGate, FailureReservation,
    Stores, Write,
};

async fn count(stores: &Stores, key: &str, at: Timestamp) -> Option<u64> {
    stores
        .counters
        .get(key, at)
        .await
        .expect("read")
        .map(|value| value.count)
}

/// A gate with a cap of `cap`, whose first lock lasts 60 s and every later one 120 s.
fn gate(key: &CounterKey, cap: u64, at: Timestamp) -> FailureGate {
    FailureGate {
        key: key.clone(),
        cap,
        unlocked_if_counted_by: vec![at.plus_secs(-60), at.plus_secs(-120)],
        now: at,
    }
}

async fn reserve(stores: &Stores, gate: &FailureGate) -> FailureReservation {
    stores
        .counters
        .reserve_failure(gate)
        .await
        .expect("reserve")
}

fn counted(count: u64, updated_at: Timestamp) -> CounterValue {
    CounterValue { count, updated_at }
}

pub async fn failures_are_reserved_up_to_the_cap_released_expire_and_reset(stores: &Stores) {
    let at = now();
    let key = CounterKey {
        key: format!("{}#failures#a", tenant()),
        expires_at: at.plus_secs(600),
    };
    let first = gate(&key, 2, at);
    assert_eq!(
        reserve(stores, &first).await,
        FailureReservation::Reserved(counted(1, at))
    );
    assert_eq!(
        reserve(stores, &first).await,
        FailureReservation::Reserved(counted(2, at))
    );
    assert_eq!(
        reserve(stores, &first).await,
        FailureReservation::Locked(counted(2, at)),
        "at the cap the identifier is locked and nothing more is counted"
    );
    let later = at.plus_secs(61);
    assert_eq!(
        reserve(stores, &gate(&key, 2, later)).await,
        FailureReservation::Reserved(counted(3, later)),
        "once the lock has run out, one more answer is let through"
    );
    assert_eq!(
        reserve(stores, &gate(&key, 2, later.plus_secs(61))).await,
        FailureReservation::Locked(counted(3, later)),
        "and the next lock is longer"
    );
    stores
        .counters
        .release_failure(&key.key, later)
        .await
        .expect("release");
    assert_eq!(count(stores, &key.key, later).await, Some(2));
    assert_eq!(
        apply(
            stores,
            vec![Write::ResetCounter {
                key: key.key.clone()
            }]
        )
        .await,
        Applied::Done
    );
    assert_eq!(count(stores, &key.key, later).await, None);
    stores
        .counters
        .release_failure(&key.key, later)
        .await
        .expect("nothing to give back is fine");
    assert_eq!(count(stores, &key.key, later).await, None);

    let short = CounterKey {
        key: format!("{}#failures#b", tenant()),
        expires_at: at.plus_secs(10),
    };
    for _ in 0..2 {
        reserve(stores, &gate(&short, 2, at)).await;
    }
    let after_expiry = at.plus_secs(20);
    assert_eq!(
        count(stores, &short.key, after_expiry).await,
        None,
        "an expired counter reads as absent"
    );
    let renewed = CounterKey {
        expires_at: after_expiry.plus_secs(10),
        ..short
    };
    assert_eq!(
        reserve(stores, &gate(&renewed, 2, after_expiry)).await,
        FailureReservation::Reserved(counted(1, after_expiry)),
        "an expired count restarts at one, lock and all"
    );
}

pub async fn parallel_reservations_stop_exactly_at_the_cap(stores: &Stores) {
    let at = now();
    let key = CounterKey {
        key: format!("{}#failures#parallel", tenant()),
        expires_at: at.plus_secs(600),
    };
    let gate = gate(&key, 5, at);
    let outcomes = futures::future::join_all((0..20).map(|_| reserve(stores, &gate))).await;
    let mut reserved: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| match o {
            FailureReservation::Reserved(value) => Some(value.count),
            FailureReservation::Locked(_) => None,
        })
        .collect();
    reserved.sort_unstable();
    assert_eq!(
        reserved,
        vec![1, 2, 3, 4, 5],
        "20 answers at once: five are counted, each once, and the rest find the lock"
    );
    assert_eq!(count(stores, &key.key, at).await, Some(5));
}

pub async fn admission_counts_in_every_counter_or_in_none(stores: &Stores) {
    let at = now();
    let prefix = tenant();
    let limit = |name: &str, max| CounterLimit {
        key: CounterKey {
            key: format!("{prefix}#{name}"),
            expires_at: at.plus_secs(60),
        },
        max,
    };
    let (roomy, tight) = (limit("roomy", 10), limit("tight", 1));
    let counted = |limit: &CounterLimit| {
        let key = limit.key.key.clone();
        async move { count(stores, &key, at).await.unwrap_or(0) }
    };
    let both = [roomy.clone(), tight.clone()];
    assert_eq!(
        stores.counters.admit(&both, at).await.expect("judged"),
        Admission::Admitted
    );
    assert_eq!((counted(&roomy).await, counted(&tight).await), (1, 1));
    assert_eq!(
        stores.counters.admit(&both, at).await.expect("judged"),
        Admission::Refused(vec![1]),
        "the counter at its max refuses, and is named"
    );
    assert_eq!(
        (counted(&roomy).await, counted(&tight).await),
        (1, 1),
        "a refused request is counted nowhere"
    );
    assert_eq!(
        stores.counters.admit(&both, at).await.expect("judged"),
        Admission::Refused(vec![1]),
        "a full counter keeps refusing for its window"
    );
    let expired = CounterLimit {
        key: CounterKey {
            expires_at: at.plus_secs(120),
            ..tight.key.clone()
        },
        ..tight.clone()
    };
    assert_eq!(
        stores
            .counters
            .admit(std::slice::from_ref(&expired), at.plus_secs(60))
            .await
            .expect("judged"),
        Admission::Admitted,
        "an expired counter is a fresh one"
    );
}

pub async fn parallel_admissions_never_exceed_the_limit(stores: &Stores) {
    let at = now();
    let prefix = tenant();
    let limits = [
        CounterLimit {
            key: CounterKey {
                key: format!("{prefix}#client"),
                expires_at: at.plus_secs(60),
            },
            max: 100,
        },
        CounterLimit {
            key: CounterKey {
                key: format!("{prefix}#shared"),
                expires_at: at.plus_secs(60),
            },
            max: 7,
        },
    ];
    let decisions =
        futures::future::join_all((0..30).map(|_| stores.counters.admit(&limits, at))).await;
    let admitted = decisions
        .into_iter()
        .filter(|decision| decision.as_ref().expect("judged") == &Admission::Admitted)
        .count();
    assert_eq!(admitted, 7, "30 parallel requests against a limit of 7");
    for (limit, expected) in limits.iter().zip([7, 7]) {
        assert_eq!(
            count(stores, &limit.key.key, at).await,
            Some(expected),
            "{}: only admitted requests stay counted",
            limit.key.key
        );
    }
}
