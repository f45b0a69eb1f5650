//! Counters: rate-limit admission, and identifiers' failure counts.

use super::{apply, now, tenant};
use crate::clock::Timestamp;
use crate::store::{Admission, Applied, CounterKey, CounterLimit, Stores, Write};

async fn count(stores: &Stores, key: &str, at: Timestamp) -> Option<u64> {
    stores
        .counters
        .get(key, at)
        .await
        .expect("read")
        .map(|value| value.count)
}

fn count_failure(key: &CounterKey, seen: u64, at: Timestamp) -> Write {
    Write::CountFailure {
        key: key.clone(),
        seen,
        now: at,
    }
}

pub async fn failures_are_counted_exactly_expire_and_reset(stores: &Stores) {
    let at = now();
    let key = CounterKey {
        key: format!("{}#failures#a", tenant()),
        expires_at: at.plus_secs(10),
    };
    assert_eq!(
        apply(stores, vec![count_failure(&key, 0, at)]).await,
        Applied::Done
    );
    let value = stores
        .counters
        .get(&key.key, at)
        .await
        .expect("read")
        .expect("counted");
    assert_eq!((value.count, value.updated_at), (1, at));
    assert_eq!(
        apply(stores, vec![count_failure(&key, 0, at)]).await,
        Applied::Refused(vec![0]),
        "a failure counted from a stale reading is refused"
    );
    assert_eq!(
        apply(stores, vec![count_failure(&key, 1, at)]).await,
        Applied::Done
    );
    assert_eq!(count(stores, &key.key, at).await, Some(2));

    let later = at.plus_secs(20);
    assert_eq!(
        count(stores, &key.key, later).await,
        None,
        "an expired counter reads as absent"
    );
    let renewed = CounterKey {
        expires_at: later.plus_secs(10),
        ..key.clone()
    };
    assert_eq!(
        apply(stores, vec![count_failure(&renewed, 2, later)]).await,
        Applied::Refused(vec![0]),
        "an expired count is not continued"
    );
    assert_eq!(
        apply(stores, vec![count_failure(&renewed, 0, later)]).await,
        Applied::Done,
        "an expired counter restarts at one"
    );
    assert_eq!(count(stores, &key.key, later).await, Some(1));
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
}

pub async fn parallel_failures_are_each_counted_once(stores: &Stores) {
    let at = now();
    let key = CounterKey {
        key: format!("{}#failures#parallel", tenant()),
        expires_at: at.plus_secs(60),
    };
    let outcomes =
        futures::future::join_all((0..20).map(|_| apply(stores, vec![count_failure(&key, 0, at)])))
            .await;
    assert_eq!(
        outcomes.iter().filter(|o| **o == Applied::Done).count(),
        1,
        "20 parallel failures from the same reading: one counts, the others read again"
    );
    assert_eq!(count(stores, &key.key, at).await, Some(1));
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
