//! Domain events: every state change of a sign-in, a session or a device, recorded in the
//! same atomic step as the change itself (a store writes a [`crate::store::Change`]'s
//! events with its writes, or none of them), then handed to consumers — the audit log
//! first, usage metering and webhooks later — by a pipeline that may hand an event over
//! more than once but never loses one. Consumers are therefore idempotent by [`Event::id`].
//!
//! Requests refused by a rate limit, a lock or a device check are not state changes and
//! are not recorded one by one: they are counted per tenant, reason and minute
//! ([`Event::refusals`]), so a flood of refusals cannot become a flood of writes.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::challenge::ChallengeId;
use crate::clock::{Randomness, Timestamp};
use crate::device::DeviceId;
use crate::identifier::Channel;
use crate::rate_limit::Scope;
use crate::store::BoxError;
use crate::tenant::TenantId;
use crate::user::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ChallengeStarted,
    /// A resend replaced a challenge with a new one.
    ChallengeResent,
    /// The message could not be sent; the challenge stays, resendable at once.
    DeliveryFailed,
    AnswerWrong,
    /// A wrong answer used the challenge's last attempt.
    ChallengeExhausted,
    ChallengeVerified,
    /// A magic link was confirmed from its page (verified, with a result to exchange).
    MagicLinkConfirmed,
    /// A confirmed magic link's result was exchanged.
    ChallengeConsumed,
    /// A contact proof's code was right: the contact belongs to the account that asked
    /// (an outside directory's user, named in the challenge's purpose). Nobody signed in.
    ContactProven,
    UserCreated,
    /// The tenant disabled a user: no sign-in opens a session for them until enabled.
    UserDisabled,
    UserEnabled,
    /// A phone number unused for longer than the tenant allows signed in: it was given to
    /// a new user (`detail`: `to=<new user id>`); the event names the previous one.
    IdentifierReassigned,
    /// A signed-in user proved a new identifier and now signs in with it (`identifier`: the
    /// new one, masked; `detail`: `from=<the old one, masked>`).
    IdentifierChanged,
    /// The tenant erased a user (`detail`: the pseudonym their audit entries now carry).
    UserErased,
    SessionOpened,
    SessionRotated,
    /// A replaced refresh token came back: the session was revoked.
    SessionReused,
    SessionRevoked,
    DeviceBound,
    DeviceRevoked,
    /// An identifier reached its failure cap (again): answers and starts are refused for a
    /// while.
    IdentifierLocked,
    /// Requests refused in one minute for one reason (`detail`), counted (`count`).
    RequestsRefused,
    // Administrative changes; `detail` names who made them (and the key, for keys).
    TenantCreated,
    TenantUpdated,
    TenantSuspended,
    TenantReactivated,
    TenantDeleted,
    ApiKeyCreated,
    ApiKeyRevoked,
    ApiKeyRotated,
    /// An address was invited to the tenant (`identifier`: masked; `detail`: who, and the role).
    MemberInvited,
    /// A member joined, or their role changed (`user_id`: the member; `detail`: who, and the role).
    MemberRoleSet,
    MemberRemoved,
    /// A pending invitation was revoked (`identifier`: masked; `detail`: who, and the role).
    MemberInvitationRevoked,
}

impl EventKind {
    /// The kind an entry is stored under (its serde name): a list kept by hand missed
    /// kinds added later.
    pub fn parse(raw: &str) -> Option<EventKind> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ChallengeStarted => "challenge_started",
            EventKind::ChallengeResent => "challenge_resent",
            EventKind::DeliveryFailed => "delivery_failed",
            EventKind::AnswerWrong => "answer_wrong",
            EventKind::ChallengeExhausted => "challenge_exhausted",
            EventKind::ChallengeVerified => "challenge_verified",
            EventKind::MagicLinkConfirmed => "magic_link_confirmed",
            EventKind::ChallengeConsumed => "challenge_consumed",
            EventKind::ContactProven => "contact_proven",
            EventKind::UserCreated => "user_created",
            EventKind::UserDisabled => "user_disabled",
            EventKind::UserEnabled => "user_enabled",
            EventKind::UserErased => "user_erased",
            EventKind::IdentifierReassigned => "identifier_reassigned",
            EventKind::IdentifierChanged => "identifier_changed",
            EventKind::SessionOpened => "session_opened",
            EventKind::SessionRotated => "session_rotated",
            EventKind::SessionReused => "session_reused",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::DeviceBound => "device_bound",
            EventKind::DeviceRevoked => "device_revoked",
            EventKind::IdentifierLocked => "identifier_locked",
            EventKind::RequestsRefused => "requests_refused",
            EventKind::TenantCreated => "tenant_created",
            EventKind::TenantUpdated => "tenant_updated",
            EventKind::TenantSuspended => "tenant_suspended",
            EventKind::TenantReactivated => "tenant_reactivated",
            EventKind::TenantDeleted => "tenant_deleted",
            EventKind::ApiKeyCreated => "api_key_created",
            EventKind::ApiKeyRevoked => "api_key_revoked",
            EventKind::ApiKeyRotated => "api_key_rotated",
            EventKind::MemberInvited => "member_invited",
            EventKind::MemberRoleSet => "member_role_set",
            EventKind::MemberRemoved => "member_removed",
            EventKind::MemberInvitationRevoked => "member_invitation_revoked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Refused,
}

/// Why requests were refused, for the per-minute counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    RateLimited(Scope),
    IdentifierLocked,
    DeviceSignIn,
}

impl RefusalReason {
    const ALL: [RefusalReason; 8] = [
        RefusalReason::RateLimited(Scope::Ip),
        RefusalReason::RateLimited(Scope::Identifier),
        RefusalReason::RateLimited(Scope::Tenant),
        RefusalReason::RateLimited(Scope::PhoneCountry),
        RefusalReason::RateLimited(Scope::PhonePrefix),
        RefusalReason::RateLimited(Scope::Device),
        RefusalReason::IdentifierLocked,
        RefusalReason::DeviceSignIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::RateLimited(Scope::Ip) => "rate_limited_ip",
            RefusalReason::RateLimited(Scope::Identifier) => "rate_limited_identifier",
            RefusalReason::RateLimited(Scope::Tenant) => "rate_limited_tenant",
            RefusalReason::RateLimited(Scope::PhoneCountry) => "rate_limited_phone_country",
            RefusalReason::RateLimited(Scope::PhonePrefix) => "rate_limited_phone_prefix",
            RefusalReason::RateLimited(Scope::Device) => "rate_limited_device",
            RefusalReason::IdentifierLocked => "identifier_locked",
            RefusalReason::DeviceSignIn => "device_sign_in_refused",
        }
    }

    pub fn parse(raw: &str) -> Option<RefusalReason> {
        RefusalReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == raw)
    }
}

/// One minute, the unit refusals are counted in.
pub fn minute_of(at: Timestamp) -> Timestamp {
    Timestamp(at.0 - at.0.rem_euclid(60))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_` and 128 random bits; for per-minute refusal counts, the same id for every
    /// update of one count, so that consumers replace it.
    pub id: String,
    pub tenant: TenantId,
    pub at: Timestamp,
    pub kind: EventKind,
    pub outcome: Outcome,
    pub user_id: Option<UserId>,
    pub challenge_id: Option<ChallengeId>,
    pub device_id: Option<DeviceId>,
    pub ip: Option<String>,
    /// Masked (`j***@example.com`, `+44*******123`): events never hold an identifier in
    /// clear, nor any secret.
    pub identifier: Option<String>,
    pub channel: Option<Channel>,
    /// A short machine-readable reason (`scope=ip`, a session's redacted id), never a secret.
    pub detail: Option<String>,
    /// How many requests a [`EventKind::RequestsRefused`] event counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// How many days the audit log keeps this event: the tenant's policy when the event
    /// was recorded (absent: the default, [`crate::audit::DEFAULT_AUDIT_RETENTION_DAYS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

impl Event {
    pub fn new(
        tenant: &TenantId,
        kind: EventKind,
        outcome: Outcome,
        at: Timestamp,
        random: &dyn Randomness,
    ) -> Event {
        let mut id = [0u8; 16];
        random.fill(&mut id);
        Event {
            id: format!("evt_{}", hex::encode(id)),
            tenant: tenant.clone(),
            at,
            kind,
            outcome,
            user_id: None,
            challenge_id: None,
            device_id: None,
            ip: None,
            identifier: None,
            channel: None,
            detail: None,
            count: None,
            retention_days: None,
        }
    }

    /// The count of one minute's refusals for one reason, as it stands: one event per
    /// (tenant, reason, minute), updated in place as the count grows.
    pub fn refusals(
        tenant: &TenantId,
        reason: RefusalReason,
        minute: Timestamp,
        count: u64,
    ) -> Event {
        Event {
            id: format!("refused_{}_{}", reason.as_str(), minute.0),
            tenant: tenant.clone(),
            at: minute,
            kind: EventKind::RequestsRefused,
            outcome: Outcome::Refused,
            user_id: None,
            challenge_id: None,
            device_id: None,
            ip: None,
            identifier: None,
            channel: None,
            detail: Some(reason.as_str().to_owned()),
            count: Some(count),
            retention_days: None,
        }
    }
}

/// Something that acts on events: the audit log, usage metering, webhooks. The pipeline
/// hands every consumer every batch; after any failure the whole batch comes again, to
/// every consumer, so each must be idempotent by [`Event::id`] on its own (a refusal count
/// comes again under the same id with a count at least as large).
#[async_trait]
pub trait EventConsumer: Send + Sync {
    /// A stable name for logs and metrics.
    fn name(&self) -> &'static str;

    async fn consume(&self, events: &[Event]) -> Result<(), BoxError>;
}

#[derive(Debug, thiserror::Error)]
#[error("the event consumer `{consumer}` failed")]
pub struct ConsumerFailed {
    pub consumer: &'static str,
    #[source]
    pub source: BoxError,
}

/// The consumers every recorded event goes to, in every deployment: run by the
/// `authkit-events` function over DynamoDB Streams, and in process by the local server.
#[derive(Clone, Default)]
pub struct EventPipeline {
    consumers: Vec<Arc<dyn EventConsumer>>,
}

impl EventPipeline {
    pub fn new(consumers: Vec<Arc<dyn EventConsumer>>) -> EventPipeline {
        EventPipeline { consumers }
    }

    /// Hands `events` (in the order they were recorded) to every consumer at once. Any
    /// failure fails the batch; the caller delivers it again later.
    pub async fn deliver(&self, events: &[Event]) -> Result<(), ConsumerFailed> {
        if events.is_empty() {
            return Ok(());
        }
        let outcomes = futures::future::join_all(
            self.consumers
                .iter()
                .map(|consumer| async move { (consumer.name(), consumer.consume(events).await) }),
        )
        .await;
        for (consumer, outcome) in outcomes {
            outcome.map_err(|source| ConsumerFailed { consumer, source })?;
        }
        Ok(())
    }
}

/// Events a store recorded and nobody has delivered yet, for delivery in process (the
/// embedded store; in AWS, DynamoDB Streams and the `authkit-events` function do this).
pub trait PendingEvents: Send + Sync {
    /// Up to `max` of the oldest pending events, now taken.
    fn take(&self, max: usize) -> Vec<Event>;

    /// Returns events taken but not delivered, ahead of everything still pending.
    fn put_back(&self, events: Vec<Event>);
}

/// Delivers everything pending, `batch` events at a time. A failed batch is put back (to
/// come again, whole) and the failure returned. The number delivered otherwise.
pub async fn drain(
    pending: &dyn PendingEvents,
    pipeline: &EventPipeline,
    batch: usize,
) -> Result<usize, ConsumerFailed> {
    let mut delivered = 0;
    loop {
        let events = pending.take(batch.max(1));
        if events.is_empty() {
            return Ok(delivered);
        }
        if let Err(failed) = pipeline.deliver(&events).await {
            pending.put_back(events);
            return Err(failed);
        }
        delivered += events.len();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::clock::OsRandomness;

    #[derive(Default)]
    struct Queue(Mutex<VecDeque<Event>>);

    impl PendingEvents for Queue {
        fn take(&self, max: usize) -> Vec<Event> {
            let mut queue = self.0.lock().unwrap();
            let n = max.min(queue.len());
            queue.drain(..n).collect()
        }

        fn put_back(&self, events: Vec<Event>) {
            let mut queue = self.0.lock().unwrap();
            for event in events.into_iter().rev() {
                queue.push_front(event);
            }
        }
    }

    /// Keeps what it was given by id; fails its first `failures` batches.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
        failures: AtomicUsize,
    }

    #[async_trait]
    impl EventConsumer for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }

        async fn consume(&self, events: &[Event]) -> Result<(), BoxError> {
            let left = self.failures.load(Ordering::SeqCst);
            if left > 0 {
                self.failures.store(left - 1, Ordering::SeqCst);
                return Err("down".into());
            }
            self.seen
                .lock()
                .unwrap()
                .extend(events.iter().map(|e| e.id.clone()));
            Ok(())
        }
    }

    fn events(n: usize) -> Vec<Event> {
        let tenant = TenantId::parse("acme").unwrap();
        (0..n)
            .map(|i| {
                Event::new(
                    &tenant,
                    EventKind::ChallengeStarted,
                    Outcome::Success,
                    Timestamp(i as i64),
                    &OsRandomness,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn a_failed_batch_comes_again_whole_and_nothing_is_lost() {
        let queue = Queue::default();
        let recorded = events(7);
        queue.0.lock().unwrap().extend(recorded.clone());
        let working = Arc::new(Recorder::default());
        let failing = Arc::new(Recorder {
            failures: AtomicUsize::new(1),
            ..Recorder::default()
        });
        let pipeline = EventPipeline::new(vec![working.clone(), failing.clone()]);

        let first = drain(&queue, &pipeline, 3).await;
        assert!(matches!(
            first,
            Err(ConsumerFailed {
                consumer: "recorder",
                ..
            })
        ));
        assert_eq!(drain(&queue, &pipeline, 3).await.unwrap(), 7);

        let ids: Vec<String> = recorded.iter().map(|e| e.id.clone()).collect();
        assert_eq!(*failing.seen.lock().unwrap(), ids, "every event, in order");
        // The consumer that worked the first time saw the first batch twice: why consumers
        // must be idempotent by event id.
        let seen = working.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 10);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 7);
    }

    #[test]
    fn refusal_counts_keep_one_id_per_tenant_reason_and_minute() {
        let tenant = TenantId::parse("acme").unwrap();
        let minute = minute_of(Timestamp(1_000_075));
        assert_eq!(minute, Timestamp(1_000_020));
        let reason = RefusalReason::RateLimited(Scope::Ip);
        let first = Event::refusals(&tenant, reason, minute, 1);
        let later = Event::refusals(&tenant, reason, minute, 40);
        assert_eq!(first.id, later.id);
        assert_eq!(later.count, Some(40));
        for reason in RefusalReason::ALL {
            assert_eq!(RefusalReason::parse(reason.as_str()), Some(reason));
        }
    }

    #[test]
    fn every_event_kind_is_found_by_its_name_as_stored() {
        // The audit API's `kind` filter parses the name an entry is stored under (serde's).
        for kind in [
            EventKind::ChallengeStarted,
            EventKind::UserErased,
            EventKind::RequestsRefused,
            EventKind::TenantCreated,
            EventKind::TenantDeleted,
            EventKind::ApiKeyRotated,
            EventKind::MemberInvited,
            EventKind::MemberRoleSet,
            EventKind::MemberRemoved,
            EventKind::MemberInvitationRevoked,
        ] {
            let stored = serde_json::to_value(kind).unwrap();
            assert_eq!(stored.as_str(), Some(kind.as_str()));
            assert_eq!(
                EventKind::parse(kind.as_str()),
                Some(kind),
                "{}",
                kind.as_str()
            );
        }
        assert_eq!(EventKind::parse("Tenant_Created"), None);
        assert_eq!(EventKind::parse(""), None);
    }
}
