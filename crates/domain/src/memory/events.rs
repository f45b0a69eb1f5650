//! The embedded store's outbox (events recorded with their changes, waiting to be
//! delivered in process) and its audit log (what the audit consumer kept).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::{MemoryStore, Tables};
use crate::audit::{pseudonymised, purge_at, AuditPage, AuditPosition, AuditQuery};
use crate::clock::Timestamp;
use crate::event::{Event, PendingEvents, RefusalReason};
use crate::store::{AuditLog, StoreError};
use crate::tenant::TenantId;
use crate::user::UserId;

/// How many audit entries per tenant the embedded store keeps (DynamoDB keeps 90 days).
pub const AUDIT_EVENTS_KEPT: usize = 10_000;

/// Refusal counts are kept this long after their minute, so that a late addition still
/// adds to the right count.
const REFUSALS_KEPT_SECS: i64 = 3600;

impl Tables {
    /// Adds to a minute's refusal count and records the new total as its event: replacing
    /// the count's event still waiting in the outbox, so a flood of refusals leaves one
    /// pending event, not one per request.
    pub(super) fn add_refusals(
        &mut self,
        tenant: &TenantId,
        reason: RefusalReason,
        minute: Timestamp,
        count: u64,
    ) {
        let total = {
            let entry = self
                .refusals
                .entry((tenant.clone(), reason, minute))
                .or_insert(0);
            *entry += count;
            *entry
        };
        self.refusals
            .retain(|(_, _, at), _| at.0 + REFUSALS_KEPT_SECS > minute.0);
        let event = Event::refusals(tenant, reason, minute, total);
        match self
            .outbox
            .iter_mut()
            .find(|pending| pending.id == event.id && &pending.tenant == tenant)
        {
            Some(pending) => *pending = event,
            None => self.outbox.push_back(event),
        }
    }
}

impl PendingEvents for MemoryStore {
    fn take(&self, max: usize) -> Vec<Event> {
        let mut tables = self.lock();
        let n = max.min(tables.outbox.len());
        tables.outbox.drain(..n).collect()
    }

    fn put_back(&self, events: Vec<Event>) {
        let mut tables = self.lock();
        for event in events.into_iter().rev() {
            tables.outbox.push_front(event);
        }
    }
}

/// One tenant's audit entries in the log's order (time, then event id, as DynamoDB sorts
/// them), found again by id.
#[derive(Default)]
pub(super) struct AuditEntries {
    by_position: BTreeMap<AuditPosition, Event>,
    by_id: HashMap<String, AuditPosition>,
}

impl AuditEntries {
    fn record(&mut self, event: &Event) {
        if let Some(position) = self.by_id.get(&event.id) {
            let kept = self
                .by_position
                .get_mut(position)
                .expect("both maps hold every entry");
            if event.count >= kept.count {
                *kept = event.clone();
            }
            return;
        }
        let position = AuditPosition::of(event);
        self.by_position.insert(position.clone(), event.clone());
        self.by_id.insert(event.id.clone(), position);
        if self.by_position.len() > AUDIT_EVENTS_KEPT {
            if let Some((_, oldest)) = self.by_position.pop_first() {
                self.by_id.remove(&oldest.id);
            }
        }
    }
}

impl MemoryStore {
    fn audit_entries(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, AuditEntries>> {
        self.audit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut audit = self.audit_entries();
        for event in events {
            audit.entry(event.tenant.clone()).or_default().record(event);
        }
        Ok(())
    }

    async fn query(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        now: Timestamp,
    ) -> Result<AuditPage, StoreError> {
        let audit = self.audit_entries();
        let Some(entries) = audit.get(tenant) else {
            return Ok(AuditPage::default());
        };
        let selected = entries
            .by_position
            .values()
            .rev()
            .filter(|e| now < purge_at(e) && query.selects(e))
            .take(query.limit.saturating_add(1))
            .cloned()
            .collect();
        Ok(query.page(selected))
    }

    async fn pseudonymise(
        &self,
        tenant: &TenantId,
        user: &UserId,
        pseudonym: &UserId,
        since: Timestamp,
        _now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut audit = self.audit_entries();
        let Some(entries) = audit.get_mut(tenant) else {
            return Ok(());
        };
        for event in entries.by_position.values_mut() {
            if event.at >= since && event.user_id.as_ref() == Some(user) {
                *event = pseudonymised(event, pseudonym);
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandomness;
    use crate::event::{EventKind, Outcome};
    use crate::rate_limit::Scope;

    #[tokio::test]
    async fn the_audit_log_keeps_the_newest_events_up_to_its_bound_once_each() {
        let store = MemoryStore::new();
        let tenant = TenantId::parse("acme").unwrap();
        let events: Vec<Event> = (0..AUDIT_EVENTS_KEPT + 5)
            .map(|i| {
                Event::new(
                    &tenant,
                    EventKind::ChallengeStarted,
                    Outcome::Success,
                    Timestamp(1_000 + i as i64),
                    &OsRandomness,
                )
            })
            .collect();
        store.record(&events).await.unwrap();
        store.record(&events[events.len() - 3..]).await.unwrap();
        let all = store
            .recent(&tenant, Timestamp(100_000), usize::MAX)
            .await
            .unwrap();
        assert_eq!(all.len(), AUDIT_EVENTS_KEPT, "delivered again, kept once");
        assert_eq!(all.first(), events.last());
        assert_eq!(all.last(), events.get(5));
    }

    #[tokio::test]
    async fn a_flood_of_refusals_leaves_one_pending_event_with_the_count() {
        let store = MemoryStore::new();
        let tenant = TenantId::parse("acme").unwrap();
        let reason = RefusalReason::RateLimited(Scope::Ip);
        for _ in 0..500 {
            store.lock().add_refusals(&tenant, reason, Timestamp(60), 1);
        }
        let pending = store.take(usize::MAX);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].count, Some(500));
        store.record(&pending).await.unwrap();
        // An older count delivered late does not lower the kept one.
        store
            .record(&[Event::refusals(&tenant, reason, Timestamp(60), 10)])
            .await
            .unwrap();
        let kept = store.recent(&tenant, Timestamp(61), 10).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].count, Some(500));
    }
}
