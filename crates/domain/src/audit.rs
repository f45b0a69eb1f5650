//! The audit log: the first consumer of domain events. It keeps every event for its
//! tenant's retention, 90 days by default (identifiers masked, no secrets) and is idempotent by event id, so a batch delivered
//! twice leaves one entry per event, and a refusal count delivered again leaves its
//! largest count. A user's erasure reaches it as an event too ([`EventKind::UserErased`]):
//! the consumer then pseudonymises the user's entries (decision 91).

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::event::{Event, EventConsumer, EventKind};
use crate::store::{AuditLog, BoxError};
use crate::user::UserId;

/// How many days audit entries are kept unless the tenant's policy says otherwise
/// (`audit_retention_days`; DynamoDB TTL).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 90;

/// The longest retention a tenant may choose: how far back any read of the log looks.
pub const MAX_AUDIT_RETENTION_DAYS: u32 = 365;

/// How far back the log is read: no entry is kept longer.
pub const AUDIT_RETENTION_SECS: i64 = MAX_AUDIT_RETENTION_DAYS as i64 * 24 * 3600;

/// When the audit log may forget `event`: its tenant's retention (carried by the event,
/// set when it was recorded), else the default.
pub fn purge_at(event: &Event) -> Timestamp {
    let days = event
        .retention_days
        .unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS)
        .min(MAX_AUDIT_RETENTION_DAYS);
    event.at.plus_secs(i64::from(days) * 24 * 3600)
}

/// Where an entry sits in the log's order (time, then event id): what a page's cursor
/// names. Written `<time, 12 digits>#<event id>`, which is also the DynamoDB sort key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditPosition {
    pub at: Timestamp,
    pub id: String,
}

impl AuditPosition {
    pub fn of(event: &Event) -> AuditPosition {
        AuditPosition {
            at: event.at,
            id: event.id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        format!("{:012}#{}", self.at.0, self.id)
    }

    /// A position a client sent back (`starting_after`); None when it is not one.
    pub fn parse(raw: &str) -> Option<AuditPosition> {
        let (at, id) = raw.split_once('#')?;
        let valid_id = !id.is_empty()
            && id.len() <= 100
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let at: i64 = at.parse().ok().filter(|_| at.len() == 12)?;
        valid_id.then(|| AuditPosition {
            at: Timestamp(at),
            id: id.to_owned(),
        })
    }
}

/// Which entries to read: a time range (inclusive), optional filters, and where the page
/// starts (after a position of the previous page).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub from: Timestamp,
    pub to: Timestamp,
    pub kind: Option<EventKind>,
    pub user: Option<UserId>,
    pub starting_after: Option<AuditPosition>,
    pub limit: usize,
}

impl AuditQuery {
    pub fn between(from: Timestamp, to: Timestamp, limit: usize) -> AuditQuery {
        AuditQuery {
            from,
            to,
            kind: None,
            user: None,
            starting_after: None,
            limit,
        }
    }

    /// Whether the query selects `event` (its range, filters and cursor).
    pub fn selects(&self, event: &Event) -> bool {
        self.from <= event.at
            && event.at <= self.to
            && self.kind.is_none_or(|kind| kind == event.kind)
            && self
                .user
                .as_ref()
                .is_none_or(|user| event.user_id.as_ref() == Some(user))
            && self
                .starting_after
                .as_ref()
                .is_none_or(|after| AuditPosition::of(event) < *after)
    }

    /// The first `limit` of `newest_first` as a page.
    pub fn page(&self, mut newest_first: Vec<Event>) -> AuditPage {
        let has_more = newest_first.len() > self.limit;
        newest_first.truncate(self.limit);
        AuditPage {
            entries: newest_first
                .into_iter()
                .map(|event| (AuditPosition::of(&event), event))
                .collect(),
            has_more,
        }
    }
}

/// What a reader of the log asks for; the service resolves it to an [`AuditQuery`]
/// (`from` defaults to [`DEFAULT_AUDIT_WINDOW_SECS`] ago, `to` to now).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub kind: Option<EventKind>,
    pub user: Option<UserId>,
    pub starting_after: Option<AuditPosition>,
    pub limit: usize,
}

/// How far back a read of the log goes unless it says otherwise: each day costs 64
/// queries (decision 73), so a reader asks for older days explicitly.
pub const DEFAULT_AUDIT_WINDOW_SECS: i64 = 7 * 24 * 3600;

/// One page of entries, newest first, each with its position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditPage {
    pub entries: Vec<(AuditPosition, Event)>,
    pub has_more: bool,
}

/// An event rewritten for an erased user: `pseudonym` instead of the user id, no masked
/// identifier, no address.
pub fn pseudonymised(event: &Event, pseudonym: &UserId) -> Event {
    Event {
        user_id: Some(pseudonym.clone()),
        identifier: None,
        ip: None,
        ..event.clone()
    }
}

/// What an erasure event tells the audit log: `pseudonym=<user id> since=<time>`.
pub fn erasure_detail(pseudonym: &UserId, since: Timestamp) -> String {
    format!("pseudonym={pseudonym} since={}", since.0)
}

fn parse_erasure(event: &Event) -> Option<(UserId, UserId, Timestamp)> {
    let user = event.user_id.clone()?;
    let detail = event.detail.as_deref()?;
    let mut pseudonym = None;
    let mut since = None;
    for part in detail.split(' ') {
        match part.split_once('=') {
            Some(("pseudonym", id)) => pseudonym = UserId::parse(id).ok(),
            Some(("since", at)) => since = at.parse().ok().map(Timestamp),
            _ => {}
        }
    }
    Some((user, pseudonym?, since?))
}

/// Feeds the pipeline's events into an [`AuditLog`].
pub struct AuditConsumer(pub Arc<dyn AuditLog>);

#[async_trait]
impl EventConsumer for AuditConsumer {
    fn name(&self) -> &'static str {
        "audit"
    }

    /// Records the batch, then pseudonymises the entries of every user it erased (their
    /// erasure's own entry included). Both steps are idempotent, so a batch delivered
    /// again does no harm.
    async fn consume(&self, events: &[Event]) -> Result<(), BoxError> {
        self.0.record(events).await?;
        for event in events.iter().filter(|e| e.kind == EventKind::UserErased) {
            let Some((user, pseudonym, since)) = parse_erasure(event) else {
                tracing::error!(event = %event.id, "an erasure event without its pseudonym");
                continue;
            };
            self.0
                .pseudonymise(&event.tenant, &user, &pseudonym, since, event.at)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_and_nonsense_is_none() {
        let position = AuditPosition {
            at: Timestamp(1_764_000_000),
            id: "evt_00ff".into(),
        };
        assert_eq!(position.encode(), "001764000000#evt_00ff");
        assert_eq!(AuditPosition::parse(&position.encode()), Some(position));
        for raw in ["", "#", "12#evt", "001764000000#", "001764000000#a b", "x"] {
            assert_eq!(AuditPosition::parse(raw), None, "{raw}");
        }
    }
}
