//! The audit log: `pk = <tenant>#<day number>#<shard>`, `sk = <zero-padded time>#<event
//! id>`. The shard (one of [`SHARDS`], from the event id) spreads a busy tenant's day over
//! many partitions: at 10,000 sign-ins a second one tenant writes some 30,000 audit entries
//! a second, and one partition key takes about 1,000. A day's entries are one Query per
//! shard, merged in time order. The key is derived from the event alone, so recording an
//! event again (a stream batch retried) overwrites the same item: one entry per event.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use authkit_domain::audit::purge_at;
use authkit_domain::clock::Timestamp;
use authkit_domain::event::Event;
use authkit_domain::store::{AuditLog, StoreError};
use authkit_domain::tenant::TenantId;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use crate::item::{key, n, s, to_json, Fields, Item};
use crate::{condition_held, store_error, DynamoStore};

const DAY: i64 = 86_400;
/// How far back `recent` looks.
const RECENT_DAYS: i64 = 7;
/// Partition keys per tenant and day.
pub const SHARDS: u64 = 64;
/// `BatchWriteItem` takes at most 25 items.
const BATCH: usize = 25;
/// Rounds of resending what `BatchWriteItem` left unprocessed (throttled) before failing.
const UNPROCESSED_ROUNDS: u32 = 6;

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
        &format!("{:012}#{}", event.at.0, event.id),
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
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        let batches = requests.chunks(BATCH).map(|batch| async move {
            let mut pending = batch.to_vec();
            for round in 0..UNPROCESSED_ROUNDS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(self.tables.audit.clone(), pending)
                    .send()
                    .await
                    .map_err(store_error)?;
                pending = output
                    .unprocessed_items()
                    .and_then(|tables| tables.get(&self.tables.audit))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(25 << round)).await;
            }
            Err(StoreError::Throttled(
                "audit entries stayed unprocessed".into(),
            ))
        });
        futures::future::try_join_all(batches).await.map(|_| ())
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

    async fn recent(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut found: Vec<(String, Event)> = Vec::new();
        let today = now.0.div_euclid(DAY);
        for day in (today - RECENT_DAYS..=today).rev() {
            if found.len() >= limit {
                break;
            }
            let queries = (0..SHARDS).map(|shard| async move {
                let output = self
                    .client
                    .query()
                    .table_name(&self.tables.audit)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", s(partition(tenant, day, shard)))
                    .scan_index_forward(false)
                    .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(store_error)?;
                output
                    .items()
                    .iter()
                    .filter(|item| !Fields(item).expired(now))
                    .map(|item| {
                        let f = Fields(item);
                        Ok((f.str("sk")?.to_owned(), f.json("event")?))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            });
            let mut day_entries: Vec<(String, Event)> = futures::future::try_join_all(queries)
                .await?
                .into_iter()
                .flatten()
                .collect();
            day_entries.sort_by(|a, b| b.0.cmp(&a.0));
            found.extend(day_entries);
        }
        found.truncate(limit);
        Ok(found.into_iter().map(|(_, event)| event).collect())
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
