//! What a store failure in the middle of a sign-in leaves behind: nothing half done, and a
//! request that can simply be retried (the guarantees the fault-injection suite checks
//! end to end).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::testing::{code_for, Harness, REDIRECT};
use super::{RequestedKind, StartRequest};
use crate::challenge::{ChallengeId, ChallengeState};
use crate::error::AuthError;
use crate::event::{Event, EventKind};
use crate::identifier::Identifier;
use crate::store::{Applied, Change, ChangeStore, StoreError, Stores, Write};
use crate::tenant::TenantId;

/// The harness's store, except that the next `failures` changes that `matches` picks fail
/// as a throttled DynamoDB would, writing nothing.
struct Failing {
    inner: Arc<dyn ChangeStore>,
    failures: AtomicUsize,
    matches: fn(&Change) -> bool,
}

#[async_trait]
impl ChangeStore for Failing {
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        if (self.matches)(change)
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(StoreError::Throttled("injected".into()));
        }
        self.inner.apply(change).await
    }

    async fn recorded_event(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        self.inner.recorded_event(tenant, id).await
    }
}

fn failing(h: &Harness, failures: usize, matches: fn(&Change) -> bool) -> Stores {
    Stores {
        changes: Arc::new(Failing {
            inner: h.stores.changes.clone(),
            failures: AtomicUsize::new(failures),
            matches,
        }),
        ..h.stores.clone()
    }
}

/// The harness's store, except that the next change `matches` picks is applied and then
/// reported failed, as DynamoDB does when a transaction commits and the answers to it and
/// to every retry are lost: the caller cannot tell from the error whether it happened.
struct LosingTheAnswer {
    inner: Arc<dyn ChangeStore>,
    lost: AtomicUsize,
    matches: fn(&Change) -> bool,
    /// Reads of a recorded event that fail first, as a store that is still failing would.
    unreadable: AtomicUsize,
}

fn count_down(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[async_trait]
impl ChangeStore for LosingTheAnswer {
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        let applied = self.inner.apply(change).await?;
        if (self.matches)(change) && count_down(&self.lost) {
            return Err(StoreError::Unavailable("the answer was lost".into()));
        }
        Ok(applied)
    }

    async fn recorded_event(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        if count_down(&self.unreadable) {
            return Err(StoreError::Throttled("still failing".into()));
        }
        self.inner.recorded_event(tenant, id).await
    }
}

fn opens_a_session(change: &Change) -> bool {
    change
        .writes
        .iter()
        .any(|write| matches!(write, Write::InsertSession(_)))
}

#[tokio::test]
async fn a_verify_whose_write_fails_leaves_the_code_usable_and_nothing_half_done() {
    let h = Harness::new().await;
    let authkit = h.service_over(failing(&h, 1, opens_a_session));
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let code = h.sender.last_secret();

    let failed = authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &code)
        .await;
    assert!(
        matches!(
            failed,
            Err(AuthError::Unavailable(StoreError::Throttled(_)))
        ),
        "{failed:?}"
    );
    let challenge = h
        .stores
        .challenges
        .get(&h.tenant.id, &started.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        challenge.state,
        ChallengeState::Pending,
        "not verified without its session"
    );
    let identifier = Identifier::parse("a@example.com", None).unwrap();
    assert_eq!(
        h.stores
            .users
            .find(&h.tenant.id, &identifier)
            .await
            .unwrap(),
        None,
        "no user without the session"
    );
    let kinds: Vec<EventKind> = h.recent_audit(10).await.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![EventKind::ChallengeStarted],
        "no event without its change"
    );

    // The client retries the same code: it works (one more attempt counted), once.
    let signed_in = authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &code)
        .await
        .unwrap();
    assert!(signed_in.is_new_user);
    let events = h.recent_audit(10).await;
    assert!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::SessionOpened)
            .all(|e| e.challenge_id.as_ref() == Some(&started.id)),
        "the session names the challenge that proved it"
    );
    // One second, one change: the log orders its entries by id within a second.
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        vec![
            "challenge_started",
            "challenge_verified",
            "session_opened",
            "user_created"
        ]
    );
}

#[tokio::test]
async fn an_exchange_whose_write_fails_can_be_retried_with_the_same_result() {
    let h = Harness::new().await;
    let authkit = h.service_over(failing(&h, 2, opens_a_session));
    let request = StartRequest {
        identifier: "a@example.com",
        channel: None,
        kind: RequestedKind::MagicLink,
        redirect_uri: Some(REDIRECT),
        code_challenge: None,
        response_mode: Default::default(),
    };
    let started = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
    let confirmed = h
        .authkit
        .confirm_magic_link(
            &h.tenant,
            None,
            started.id.as_str(),
            &h.sender.last_secret(),
        )
        .await
        .unwrap();
    let redirect = url::Url::parse(&confirmed.redirect_to).unwrap();
    let result = redirect
        .fragment()
        .and_then(|fragment| fragment.strip_prefix("authkit_result="))
        .unwrap()
        .to_string();
    for _ in 0..2 {
        assert!(matches!(
            authkit.sign_in_with_result(h.caller(), &result, None).await,
            Err(AuthError::Unavailable(_))
        ));
    }
    let challenge_id = ChallengeId::parse(result.split_once('.').unwrap().0).unwrap();
    let challenge = h
        .stores
        .challenges
        .get(&h.tenant.id, &challenge_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        challenge.state,
        ChallengeState::Verified,
        "not consumed without its session"
    );
    authkit
        .sign_in_with_result(h.caller(), &result, None)
        .await
        .unwrap();
}

fn losing_the_answer(h: &Harness, unreadable: usize) -> Stores {
    Stores {
        changes: Arc::new(LosingTheAnswer {
            inner: h.stores.changes.clone(),
            lost: AtomicUsize::new(1),
            matches: opens_a_session,
            unreadable: AtomicUsize::new(unreadable),
        }),
        ..h.stores.clone()
    }
}

#[tokio::test]
async fn a_verify_whose_transaction_committed_but_whose_answer_was_lost_signs_in() {
    let h = Harness::new().await;
    // The store also fails the first two reads that ask whether the change happened.
    let authkit = h.service_over(losing_the_answer(&h, 2));
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let code = h.sender.last_secret();

    // Answered 503, the code would be spent with a session nobody holds: a retry of the
    // same code finds the challenge verified (409). The service asks the store whether the
    // change's first event was recorded, and it was: the sign-in happened.
    let signed_in = authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &code)
        .await
        .expect("the committed sign-in is answered as one");
    assert!(signed_in.is_new_user);
    // (Entries of one second come back in event-id order, so compare them as a set.)
    let mut kinds: Vec<String> = h
        .recent_audit(10)
        .await
        .iter()
        .map(|e| format!("{:?}", e.kind))
        .collect();
    kinds.sort();
    let mut expected: Vec<String> = [
        EventKind::SessionOpened,
        EventKind::UserCreated,
        EventKind::ChallengeVerified,
        EventKind::ChallengeStarted,
    ]
    .iter()
    .map(|k| format!("{k:?}"))
    .collect();
    expected.sort();
    assert_eq!(kinds, expected, "one sign-in, recorded once");
}

#[tokio::test]
async fn a_change_that_failed_without_recording_its_events_stays_an_error() {
    let h = Harness::new().await;
    let authkit = h.service_over(failing(&h, 1, opens_a_session));
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let failed = authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &h.sender.last_secret())
        .await;
    assert!(
        matches!(failed, Err(AuthError::Unavailable(_))),
        "asking afterwards does not turn a failure into a success: {failed:?}"
    );
}

#[tokio::test]
async fn when_the_store_never_says_whether_the_change_happened_the_failure_stands() {
    let h = Harness::new().await;
    let authkit = h.service_over(losing_the_answer(&h, usize::MAX));
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let failed = authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &h.sender.last_secret())
        .await;
    assert!(
        matches!(
            failed,
            Err(AuthError::Unavailable(StoreError::Unavailable(_)))
        ),
        "the change's own error, not the read's: {failed:?}"
    );
}
