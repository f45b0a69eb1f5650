//! Refused requests, counted per tenant, reason and minute. A refusal changes nothing, so
//! it is not an event of its own; the counts are added up in this process and written at
//! most once a second per count ([`Write::AddRefusals`]), so that a flood of refused
//! requests (what rate limits exist for) costs a few writes a second, not one per request.
//! A process that ends takes at most its last second of uncounted refusals with it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::AuthKit;
use crate::clock::Timestamp;
use crate::event::{minute_of, RefusalReason};
use crate::store::{Change, Write};
use crate::tenant::TenantId;

type CountKey = (TenantId, RefusalReason, Timestamp);

#[derive(Default)]
struct Pending {
    count: u64,
    /// When this count was last written (whole seconds).
    written_at: Option<Timestamp>,
}

#[derive(Default)]
pub(super) struct RefusalCounts {
    pending: Mutex<HashMap<CountKey, Pending>>,
}

impl RefusalCounts {
    /// Counts one refusal at `now` and takes the counts due to be written: those not
    /// written yet in this second, and what is left of past minutes.
    fn count(&self, tenant: &TenantId, reason: RefusalReason, now: Timestamp) -> Vec<Write> {
        let minute = minute_of(now);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .entry((tenant.clone(), reason, minute))
            .or_default()
            .count += 1;
        let mut due = Vec::new();
        pending.retain(|(tenant, reason, at), entry| {
            let past = *at < minute;
            let written_this_second = entry.written_at.is_some_and(|written| written >= now);
            if entry.count > 0 && (past || !written_this_second) {
                due.push(Write::AddRefusals {
                    tenant: tenant.clone(),
                    reason: *reason,
                    minute: *at,
                    count: std::mem::take(&mut entry.count),
                });
                entry.written_at = Some(now);
            }
            !past
        });
        // Oldest minute first, whatever the map's order: past minutes are written first.
        due.sort_by_key(|write| match write {
            Write::AddRefusals { minute, .. } => *minute,
            _ => Timestamp(0),
        });
        due
    }

    /// A count that could not be written comes back, for the next write.
    fn restore(&self, write: &Write) {
        if let Write::AddRefusals {
            tenant,
            reason,
            minute,
            count,
        } = write
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .entry((tenant.clone(), *reason, *minute))
                .or_default()
                .count += count;
        }
    }
}

impl AuthKit {
    /// Counts a refused request. Never fails the request: a count that cannot be written
    /// now is kept for the next one.
    pub(super) async fn count_refusal(&self, tenant: &TenantId, reason: RefusalReason) {
        let due = self.refusals.count(tenant, reason, self.now());
        let written = futures::future::join_all(due.into_iter().map(|write| async move {
            let change = Change {
                writes: vec![write],
                events: Vec::new(),
            };
            let outcome = self.stores.changes.apply(&change).await;
            (outcome, change)
        }))
        .await;
        for (outcome, change) in written {
            if let Err(error) = outcome {
                tracing::warn!(error = %error, "refusal count not written yet");
                change.writes.iter().for_each(|w| self.refusals.restore(w));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Scope;

    fn counted(due: &[Write]) -> Vec<(Timestamp, u64)> {
        due.iter()
            .map(|write| match write {
                Write::AddRefusals { minute, count, .. } => (*minute, *count),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_flood_is_written_at_most_once_a_second_and_nothing_is_dropped() {
        let counts = RefusalCounts::default();
        let tenant = TenantId::parse("acme").unwrap();
        let ip = RefusalReason::RateLimited(Scope::Ip);
        let mut written = Vec::new();
        // 1,000 refusals in each of three seconds: one write per second.
        for second in [120, 121, 122] {
            let mut writes = 0;
            for _ in 0..1_000 {
                let due = counts.count(&tenant, ip, Timestamp(second));
                writes += due.len();
                written.extend(counted(&due));
            }
            assert_eq!(writes, 1, "second {second}");
        }
        // The next minute's first refusal writes itself and what was left of the last
        // minute (in no particular order: the writes go out together).
        let mut due = counted(&counts.count(&tenant, ip, Timestamp(180)));
        due.sort();
        assert_eq!(due, vec![(Timestamp(120), 999), (Timestamp(180), 1)]);
        written.extend(due);
        let in_first_minute: u64 = written
            .iter()
            .filter(|(minute, _)| *minute == Timestamp(120))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(in_first_minute, 3_000);
    }

    #[test]
    fn a_count_that_failed_to_be_written_is_written_with_the_next() {
        let counts = RefusalCounts::default();
        let tenant = TenantId::parse("acme").unwrap();
        let reason = RefusalReason::IdentifierLocked;
        let due = counts.count(&tenant, reason, Timestamp(60));
        due.iter().for_each(|w| counts.restore(w));
        let due = counts.count(&tenant, reason, Timestamp(61));
        assert_eq!(counted(&due), vec![(Timestamp(60), 2)]);
    }
}
