//! Counters: `pk = <counter key>`, `sk = counter`. Atomic ADD with a TTL at the end of the
//! counter's window; an expired counter restarts at one. A counter found at its max is
//! remembered by the process until its window ends (a count only grows within its window,
//! but for the take-back of a refused request), so a flood against a full limit is refused
//! without a write: otherwise every refused request would still be a write to one item,
//! the hot key the refusal exists to protect.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::store::{
    Admission, CounterKey, CounterLimit, CounterStore, CounterValue, FailureGate,
    FailureReservation, StoreError,
};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::item::{key, n, Fields};
use crate::{store_error, DynamoStore};

pub(crate) const SK: &str = "counter";

/// How many full counters a process remembers at most; past that it forgets the expired
/// ones, then all.
const FULL_COUNTERS_KEPT: usize = 10_000;

/// Counters found at their max, with the end of their window.
#[derive(Default)]
pub(crate) struct FullCounters(Mutex<HashMap<String, Timestamp>>);

impl FullCounters {
    fn known_full(&self, key: &CounterKey, now: Timestamp) -> bool {
        let full = self.0.lock().unwrap_or_else(|e| e.into_inner());
        full.get(&key.key).is_some_and(|until| now < *until)
    }

    fn remember(&self, key: &CounterKey, now: Timestamp) {
        let mut full = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if full.len() >= FULL_COUNTERS_KEPT {
            full.retain(|_, until| now < *until);
            if full.len() >= FULL_COUNTERS_KEPT {
                full.clear();
            }
        }
        full.insert(key.key.clone(), key.expires_at);
    }
}

impl DynamoStore {
    /// Counts one if the counter is below `limit.max`; false, counting nothing, if it is at
    /// its max.
    async fn admit_one(&self, limit: &CounterLimit, now: Timestamp) -> Result<bool, StoreError> {
        let counted = self
            .count_if(
                &limit.key,
                now,
                "#count < :max",
                vec![(":max".to_owned(), n(limit.max))],
            )
            .await?;
        Ok(counted.is_ok())
    }

    /// Adds one to a live counter when `open` (a condition on `#count` and `updated_at`)
    /// holds, or restarts an expired one at one, in one conditional write (two when an
    /// expired item is still there). `Ok(Err(old))`, counting nothing, when `open` does
    /// not hold: the live counter as it was.
    async fn count_if(
        &self,
        counter: &CounterKey,
        now: Timestamp,
        open: &str,
        values: Vec<(String, AttributeValue)>,
    ) -> Result<Result<CounterValue, CounterValue>, StoreError> {
        for _ in 0..3 {
            let added = self
                .client
                .update_item()
                .table_name(&self.tables.counters)
                .set_key(Some(key(counter.key.clone(), SK)))
                .condition_expression(format!(
                    "attribute_not_exists(pk) OR (#ttl > :now AND ({open}))"
                ))
                .update_expression("ADD #count :one SET updated_at = :now, #ttl = :expires")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", "ttl")
                .set_expression_attribute_values(Some(
                    values
                        .iter()
                        .cloned()
                        .chain([
                            (":one".to_owned(), n(1)),
                            (":now".to_owned(), n(now.0)),
                            (":expires".to_owned(), n(counter.expires_at.0)),
                        ])
                        .collect(),
                ))
                .return_values(ReturnValue::AllNew)
                // Tells "not open" from "expired but not yet deleted" without a read.
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let old = match added {
                Ok(output) => return Ok(Ok(counter_value(output.attributes())?)),
                Err(error) if is_condition_failure(&error) => match error.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(failed) => {
                        failed.item().cloned()
                    }
                    _ => None,
                },
                Err(error) => return Err(store_error(error)),
            };
            match old {
                Some(item) if !Fields(&item).expired(now) => {
                    return Ok(Err(counter_value(Some(&item))?))
                }
                _ => {}
            }
            if self.restart(counter, now).await? {
                return Ok(Ok(CounterValue {
                    count: 1,
                    updated_at: now,
                }));
            }
        }
        Err(contention())
    }

    /// Takes back one count that a refused admission left behind.
    async fn release_one(&self, counter: &str, now: Timestamp) -> Result<(), StoreError> {
        let released = self
            .client
            .update_item()
            .table_name(&self.tables.counters)
            .set_key(Some(key(counter.to_owned(), SK)))
            .condition_expression("attribute_exists(pk) AND #count > :zero AND #ttl > :now")
            .update_expression("ADD #count :minus_one")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":minus_one", n(-1))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // Gone, expired or already zero: nothing left to take back.
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(store_error(error)),
        }
    }

    /// Replaces an expired counter with a fresh one at 1; false when someone else restarted
    /// it first (go round and add to theirs).
    async fn restart(&self, counter: &CounterKey, now: Timestamp) -> Result<bool, StoreError> {
        let restarted = self
            .client
            .put_item()
            .table_name(&self.tables.counters)
            .set_item(Some(
                [
                    key(counter.key.clone(), SK),
                    [
                        ("count".to_owned(), n(1)),
                        ("updated_at".to_owned(), n(now.0)),
                        ("ttl".to_owned(), n(counter.expires_at.0)),
                    ]
                    .into(),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ))
            .condition_expression("#ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now.0))
            .send()
            .await;
        match restarted {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(store_error(error)),
        }
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

fn counter_value(
    item: Option<&HashMap<String, AttributeValue>>,
) -> Result<CounterValue, StoreError> {
    let item = item.ok_or_else(|| StoreError::Corrupt("a counter came back empty".into()))?;
    let f = Fields(item);
    Ok(CounterValue {
        count: f.int("count")? as u64,
        updated_at: f.time("updated_at")?,
    })
}

fn contention() -> StoreError {
    StoreError::Throttled("counter kept changing under contention".into())
}

#[async_trait]
impl CounterStore for DynamoStore {
    async fn admit(
        &self,
        limits: &[CounterLimit],
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        let known_full: Vec<usize> = limits
            .iter()
            .enumerate()
            .filter(|(_, limit)| self.full_counters.known_full(&limit.key, now))
            .map(|(index, _)| index)
            .collect();
        if !known_full.is_empty() {
            return Ok(Admission::Refused(known_full));
        }
        let decisions =
            futures::future::join_all(limits.iter().map(|limit| self.admit_one(limit, now))).await;
        for (decision, limit) in decisions.iter().zip(limits) {
            if matches!(decision, Ok(false)) {
                self.full_counters.remember(&limit.key, now);
            }
        }
        let refused: Vec<usize> = decisions
            .iter()
            .enumerate()
            .filter(|(_, decision)| !matches!(decision, Ok(true)))
            .map(|(index, _)| index)
            .collect();
        if refused.is_empty() {
            return Ok(Admission::Admitted);
        }
        // Whatever this request counted is taken back: a refused request spends nothing.
        futures::future::try_join_all(
            decisions
                .iter()
                .zip(limits)
                .filter(|(decision, _)| matches!(decision, Ok(true)))
                .map(|(_, limit)| self.release_one(&limit.key.key, now)),
        )
        .await?;
        let mut at_limit = Vec::with_capacity(refused.len());
        for (index, decision) in decisions.into_iter().enumerate() {
            match decision {
                Ok(false) => at_limit.push(index),
                Ok(true) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(Admission::Refused(at_limit))
    }

    async fn get(&self, counter: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError> {
        let item = self
            .consistent_item(&self.tables.counters, key(counter.to_owned(), SK))
            .await?;
        match item.as_ref() {
            Some(item) if !Fields(item).expired(now) => counter_value(Some(item)).map(Some),
            _ => Ok(None),
        }
    }

    async fn reserve_failure(&self, gate: &FailureGate) -> Result<FailureReservation, StoreError> {
        // Below the cap, or at `cap + k` with the k-th lock run out (the last clause for
        // every higher count): the same rule as `FailureGate::admits`, as a condition.
        let mut open = vec!["#count < :cap".to_owned()];
        let mut values = vec![(":cap".to_owned(), n(gate.cap))];
        let last = gate.unlocked_if_counted_by.len().saturating_sub(1);
        for (k, by) in gate.unlocked_if_counted_by.iter().enumerate() {
            let compare = if k == last { ">=" } else { "=" };
            open.push(format!("(#count {compare} :c{k} AND updated_at <= :u{k})"));
            values.push((format!(":c{k}"), n(gate.cap + k as u64)));
            values.push((format!(":u{k}"), n(by.0)));
        }
        let counted = self
            .count_if(&gate.key, gate.now, &open.join(" OR "), values)
            .await?;
        Ok(match counted {
            Ok(reserved) => FailureReservation::Reserved(reserved),
            Err(seen) => FailureReservation::Locked(seen),
        })
    }

    async fn release_failure(&self, counter: &str, now: Timestamp) -> Result<(), StoreError> {
        self.release_one(counter, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_counter_is_remembered_until_its_window_ends() {
        let full = FullCounters::default();
        let key = CounterKey {
            key: "acme#rate#start#ip#203.0.113.9#600".into(),
            expires_at: Timestamp(1_200),
        };
        assert!(!full.known_full(&key, Timestamp(700)));
        full.remember(&key, Timestamp(700));
        assert!(
            full.known_full(&key, Timestamp(1_199)),
            "no write until then"
        );
        assert!(
            !full.known_full(&key, Timestamp(1_200)),
            "a new window starts afresh"
        );
    }
}
