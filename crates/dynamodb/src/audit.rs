//! The audit log: `pk = <tenant>#<day number>#<shard>`, `sk = <zero-padded time>#<event
//! id>`. The shard (one of [`SHARDS`], from the event id) spreads a busy tenant's day over
//! many partitions: at 10,000 sign-ins a second one tenant writes some 30,000 audit entries
//! a second, and one partition key takes about 1,000. A day's entries are one Query per
//! shard, merged in time order. The key is derived from the event alone, so recording an
//! event again (a stream batch retried) overwrites the same item: one entry per event.

use std::collections::HashMap;

use async_trait::async_trait;
use authkit_domain::audit::{
    pseudonymised, purge_at, AuditPage, AuditPosition, AuditQuery, AUDIT_RETENTION_SECS,
};
use authkit_domain::clock::Timestamp;
use authkit_domain::event::Event;
use authkit_domain::store::{AuditLog, StoreError};
use authkit_domain::tenant::TenantId;
use authkit_domain::user::UserId;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use crate::item::{key, n, s, to_json, Fields, Item};
use crate::{condition_held, store_error, DynamoStore};

const DAY: i64 = 86_400;
/// Partition keys per tenant and day.
pub const SHARDS: u64 = 64;

/// Which of the tenant's day partitions an event lives in: FNV-1a of its id, so stable
/// across releases and platforms.
fn shard(event_id: &str) -> u64 {
    let hash = event_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    hash % SHARDS
}

fn partition(tenant: &TenantId, day: i64, shard: u64) -> String {
    format!("{tenant}#{day}#{shard}")
}

fn entry(event: &Event) -> Result<Item, StoreError> {
    let mut item = key(
        partition(&event.tenant, event.at.0.div_euclid(DAY), shard(&event.id)),
        &AuditPosition::of(event).encode(),
    );
    item.insert("event".to_owned(), s(to_json(event)?));
    item.insert("ttl".to_owned(), n(purge_at(event).0));
    if let Some(count) = event.count {
        item.insert("count".to_owned(), n(count));
    }
    Ok(item)
}

impl DynamoStore {
    /// Puts entries, 25 to a request, resending what DynamoDB left unprocessed.
    async fn put_entries(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        self.write_batches(&self.tables.audit, requests).await
    }

    /// Sets a refusal count's entry unless it already holds a larger count.
    async fn put_count(&self, item: Item, count: u64) -> Result<(), StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #count <= :count")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":count", n(count))
            .send()
            .await;
        // A larger count is already kept: nothing to do.
        condition_held(written).map(|_| ())
    }
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn record(&self, events: &[Event]) -> Result<(), StoreError> {
        // One entry per id (a batch may hold one event twice); per refusal count, the
        // largest.
        let mut latest: HashMap<(&TenantId, &str), &Event> = HashMap::new();
        for event in events {
            let kept = latest.entry((&event.tenant, &event.id)).or_insert(event);
            if event.count > kept.count {
                *kept = event;
            }
        }
        let (counts, entries): (Vec<&Event>, Vec<&Event>) = latest
            .into_values()
            .partition(|event| event.count.is_some());
        let items = entries
            .into_iter()
            .map(entry)
            .collect::<Result<Vec<_>, _>>()?;
        let counts = counts.into_iter().map(|event| async move {
            self.put_count(entry(event)?, event.count.unwrap_or_default())
                .await
        });
        let (written, counted) = futures::join!(
            self.put_entries(items),
            futures::future::try_join_all(counts)
        );
        written?;
        counted.map(|_| ())
    }

    async fn query(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        now: Timestamp,
    ) -> Result<AuditPage, StoreError> {
        let need = query.limit.saturating_add(1);
        // Older entries have expired: no day before the retention is read.
        let from = query.from.max(now.plus_secs(-AUDIT_RETENTION_SECS));
        let to = match &query.starting_after {
            Some(after) => query.to.min(after.at),
            None => query.to,
        };
        let range = SortKeyRange {
            low: format!("{:012}#", from.0),
            // The cursor's own entry is in the range; `selects` leaves it out.
            high: match &query.starting_after {
                Some(after) if after.at <= query.to => after.encode(),
                _ => format!("{:012}#~", query.to.0),
            },
        };
        let filter = Filter::of(query);
        let mut found: Vec<Event> = Vec::new();
        for day in (from.0.div_euclid(DAY)..=to.0.div_euclid(DAY)).rev() {
            if found.len() >= need {
                break;
            }
            let shards = (0..SHARDS).map(|shard| {
                self.query_shard(partition(tenant, day, shard), &range, &filter, need, now)
            });
            let mut day_entries: Vec<Event> = futures::future::try_join_all(shards)
                .await?
                .into_iter()
                .flatten()
                .filter(|event| query.selects(event))
                .collect();
            day_entries.sort_by_key(|event| std::cmp::Reverse(AuditPosition::of(event)));
            day_entries.truncate(need - found.len());
            found.extend(day_entries);
        }
        Ok(query.page(found))
    }

    /// Scans the user's days since `since` (at most the retention), 64 partitions at a
    /// time, for entries naming them, and puts each back pseudonymised under its own key.
    async fn pseudonymise(
        &self,
        tenant: &TenantId,
        user: &UserId,
        pseudonym: &UserId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let since = since.max(now.plus_secs(-AUDIT_RETENTION_SECS));
        let range = SortKeyRange {
            low: format!("{:012}#", since.0),
            high: format!("{:012}#~", now.0),
        };
        let filter = Filter::user(user);
        for day in since.0.div_euclid(DAY)..=now.0.div_euclid(DAY) {
            let shards = (0..SHARDS).map(|shard| {
                self.query_shard(
                    partition(tenant, day, shard),
                    &range,
                    &filter,
                    usize::MAX,
                    now,
                )
            });
            let items = futures::future::try_join_all(shards)
                .await?
                .into_iter()
                .flatten()
                .filter(|event| event.user_id.as_ref() == Some(user))
                .map(|event| entry(&pseudonymised(&event, pseudonym)))
                .collect::<Result<Vec<_>, _>>()?;
            self.put_entries(items).await?;
        }
        Ok(())
    }

    /// A key lookup on the audit table: proves the endpoint, credentials and table.
    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.tables.audit)
            .set_key(Some(key("ping".to_owned(), "ping")))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// An inclusive range of sort keys (positions) within one partition.
struct SortKeyRange {
    low: String,
    high: String,
}

/// A filter expression that narrows a query to entries whose event JSON holds each
/// needle (`"kind":"…"`, `"user_id":"…"`); the caller still checks the decoded event, as
/// a needle could match inside another field.
struct Filter {
    needles: Vec<String>,
}

impl Filter {
    fn of(query: &AuditQuery) -> Filter {
        let mut needles = Vec::new();
        if let Some(kind) = query.kind {
            needles.push(format!("\"kind\":\"{}\"", kind.as_str()));
        }
        if let Some(user) = &query.user {
            needles.extend(Filter::user(user).needles);
        }
        Filter { needles }
    }

    fn user(user: &UserId) -> Filter {
        Filter {
            needles: vec![format!("\"user_id\":\"{user}\"")],
        }
    }
}

impl DynamoStore {
    /// Up to `need` unexpired entries of one partition within `range` that pass `filter`,
    /// newest first (more pages while fewer were found: a filter applies after `Limit`).
    async fn query_shard(
        &self,
        pk: String,
        range: &SortKeyRange,
        filter: &Filter,
        need: usize,
        now: Timestamp,
    ) -> Result<Vec<Event>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.audit)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(pk.as_str()))
                .expression_attribute_values(":low", s(range.low.as_str()))
                .expression_attribute_values(":high", s(range.high.as_str()))
                .scan_index_forward(false)
                .limit(i32::try_from(need).unwrap_or(i32::MAX).min(1_000))
                .set_exclusive_start_key(start.take());
            if !filter.needles.is_empty() {
                let conditions: Vec<String> = (0..filter.needles.len())
                    .map(|i| format!("contains(#event, :needle{i})"))
                    .collect();
                request = request
                    .filter_expression(conditions.join(" AND "))
                    .expression_attribute_names("#event", "event");
                for (i, needle) in filter.needles.iter().enumerate() {
                    request = request
                        .expression_attribute_values(format!(":needle{i}"), s(needle.as_str()));
                }
            }
            let output = request.send().await.map_err(store_error)?;
            for item in output.items() {
                if !Fields(item).expired(now) {
                    found.push(Fields(item).json("event")?);
                }
            }
            match output.last_evaluated_key() {
                Some(last) if !last.is_empty() && found.len() < need => start = Some(last.clone()),
                _ => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_spread_over_every_shard_evenly() {
        let mut per_shard = vec![0u32; SHARDS as usize];
        for i in 0..64_000 {
            per_shard[shard(&format!("evt_{i:032x}")) as usize] += 1;
        }
        let (min, max) = (
            per_shard.iter().min().copied().unwrap_or(0),
            per_shard.iter().max().copied().unwrap_or(0),
        );
        assert!(min > 800 && max < 1_200, "uneven shards: {min}..{max}");
    }
}
