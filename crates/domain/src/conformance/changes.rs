//! Changes and their events, refusal counts, and the audit log.

use super::{apply, challenge, insert, now, tenant};
use crate::challenge::ChallengeState;
use crate::clock::{OsRandomness, Timestamp};
use crate::event::{minute_of, Event, EventKind, Outcome, RefusalReason};
use crate::rate_limit::Scope;
use crate::store::{Applied, Change, Stores, Write};

fn event(tenant: &crate::tenant::TenantId, kind: EventKind, at: Timestamp) -> Event {
    let mut event = Event::new(tenant, kind, Outcome::Success, at, &OsRandomness);
    event.identifier = Some("s***@example.com".into());
    event.ip = Some("192.0.2.1".into());
    event
}

pub async fn a_change_is_applied_whole_with_its_events_or_not_at_all(stores: &Stores) {
    let at = now();
    let tenant = tenant();
    let c = challenge(&tenant, at);
    insert(stores, &c).await;
    // Inserting a challenge whose id is taken fails its condition.
    let taken = challenge(&tenant, at);
    insert(stores, &taken).await;
    let fresh = challenge(&tenant, at);
    let verified = event(&tenant, EventKind::ChallengeVerified, at);
    let counted = event(&tenant, EventKind::AnswerWrong, at);
    let change = |second: &crate::challenge::Challenge| Change {
        writes: vec![
            Write::VerifyChallenge {
                tenant: tenant.clone(),
                id: c.id.clone(),
                exchange_hash: None,
                now: at,
            },
            Write::InsertChallenge(second.clone()),
        ],
        events: vec![verified.clone(), counted.clone()],
    };
    assert_eq!(
        stores
            .changes
            .apply(&change(&taken))
            .await
            .expect("answers"),
        Applied::Refused(vec![1]),
        "the write whose condition failed is named"
    );
    let untouched = stores
        .challenges
        .get(&tenant, &c.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        untouched.state,
        ChallengeState::Pending,
        "a refused change writes nothing, not even the writes whose conditions held"
    );
    for recorded in [&verified, &counted] {
        assert_eq!(
            stores
                .changes
                .recorded_event(&tenant, &recorded.id)
                .await
                .expect("read"),
            None,
            "a refused change records no event"
        );
    }
    assert_eq!(
        stores
            .changes
            .apply(&change(&fresh))
            .await
            .expect("answers"),
        Applied::Done
    );
    for recorded in [&verified, &counted] {
        assert_eq!(
            stores
                .changes
                .recorded_event(&tenant, &recorded.id)
                .await
                .expect("read")
                .as_ref(),
            Some(recorded),
            "an applied change records its events as they were"
        );
    }
    assert!(
        stores
            .challenges
            .get(&tenant, &fresh.id)
            .await
            .expect("read")
            .is_some(),
        "and its writes"
    );
}

pub async fn refusals_add_up_per_tenant_reason_and_minute(stores: &Stores) {
    let tenant = tenant();
    let minute = minute_of(now());
    let reason = RefusalReason::RateLimited(Scope::Ip);
    let add = |count| Write::AddRefusals {
        tenant: tenant.clone(),
        reason,
        minute,
        count,
    };
    assert_eq!(apply(stores, vec![add(3)]).await, Applied::Done);
    assert_eq!(apply(stores, vec![add(4)]).await, Applied::Done);
    let expected = Event::refusals(&tenant, reason, minute, 7);
    assert_eq!(
        stores
            .changes
            .recorded_event(&tenant, &expected.id)
            .await
            .expect("read"),
        Some(expected),
        "one event per tenant, reason and minute, carrying the total"
    );
    let other = Event::refusals(&tenant, RefusalReason::IdentifierLocked, minute, 1);
    assert_eq!(
        stores
            .changes
            .recorded_event(&tenant, &other.id)
            .await
            .expect("read"),
        None
    );
}

pub async fn audit_entries_come_back_newest_first_once_each(stores: &Stores) {
    let at = now();
    let tenant = tenant();
    let events: Vec<Event> = [
        EventKind::ChallengeStarted,
        EventKind::AnswerWrong,
        EventKind::ChallengeVerified,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, kind)| event(&tenant, kind, at.plus_secs(i as i64)))
    .collect();
    stores.audit.record(&events).await.expect("recorded");
    stores
        .audit
        .record(&events[1..])
        .await
        .expect("recorded again, as after a retried batch");
    let recent: Vec<EventKind> = stores
        .audit
        .recent(&tenant, at.plus_secs(10), 10)
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        recent,
        vec![
            EventKind::ChallengeVerified,
            EventKind::AnswerWrong,
            EventKind::ChallengeStarted
        ],
        "newest first, each event once"
    );
    let limited = stores
        .audit
        .recent(&tenant, at.plus_secs(10), 2)
        .await
        .expect("read");
    assert_eq!(limited.len(), 2);

    let minute = minute_of(at);
    let reason = RefusalReason::IdentifierLocked;
    let counts = [5, 9, 7].map(|n| Event::refusals(&tenant, reason, minute, n));
    for count in &counts {
        stores
            .audit
            .record(std::slice::from_ref(count))
            .await
            .expect("recorded");
    }
    let refusals: Vec<Option<u64>> = stores
        .audit
        .recent(&tenant, at.plus_secs(10), 10)
        .await
        .expect("read")
        .into_iter()
        .filter(|e| e.kind == EventKind::RequestsRefused)
        .map(|e| e.count)
        .collect();
    assert_eq!(
        refusals,
        vec![Some(9)],
        "a refusal count is one entry, updated in place, never lowered"
    );
    stores.audit.ping().await.expect("the store answers a ping");
}
