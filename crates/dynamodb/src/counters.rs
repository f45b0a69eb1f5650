//! Counters: `pk = <counter key>`, `sk = counter`. Atomic ADD with a TTL at the end of the
//! counter's window; an expired counter restarts at one.

use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::store::{CounterKey, CounterStore, CounterValue, StoreError};
use aws_sdk_dynamodb::types::ReturnValue;

use crate::item::{corrupt, key, n, Fields};
use crate::{store_error, DynamoStore};

const SK: &str = "counter";

impl DynamoStore {
    async fn increment_one(&self, counter: &CounterKey, now: Timestamp) -> Result<u64, StoreError> {
        // A live counter is added to; an absent one is created. An expired one that
        // DynamoDB has not deleted yet fails the condition and is restarted below, so a stale
        // count never leaks into a new window.
        for _ in 0..3 {
            let added = self
                .client
                .update_item()
                .table_name(&self.tables.counters)
                .set_key(Some(key(counter.key.clone(), SK)))
                .condition_expression("attribute_not_exists(pk) OR #ttl > :now")
                .update_expression("ADD #count :one SET updated_at = :now, #ttl = :expires")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.0))
                .expression_attribute_values(":expires", n(counter.expires_at.0))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match added {
                Ok(output) => {
                    return output
                        .attributes()
                        .map(|item| Fields(item).int("count"))
                        .transpose()?
                        .map(|c| c as u64)
                        .ok_or_else(|| corrupt("count"))
                }
                Err(error)
                    if !error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    return Err(store_error(error))
                }
                Err(_) => {}
            }
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
                Ok(_) => return Ok(1),
                // Someone else restarted it first: go round and add to theirs.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    continue
                }
                Err(error) => return Err(store_error(error)),
            }
        }
        Err(StoreError::Throttled(
            "counter kept changing under contention".into(),
        ))
    }
}

#[async_trait]
impl CounterStore for DynamoStore {
    async fn increment(&self, keys: &[CounterKey], now: Timestamp) -> Result<Vec<u64>, StoreError> {
        futures::future::try_join_all(keys.iter().map(|counter| self.increment_one(counter, now)))
            .await
    }

    async fn get(&self, counter: &str, now: Timestamp) -> Result<Option<CounterValue>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.counters)
            .set_key(Some(key(counter.to_owned(), SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        match output.item() {
            Some(item) if !Fields(item).expired(now) => {
                let f = Fields(item);
                Ok(Some(CounterValue {
                    count: f.int("count")? as u64,
                    updated_at: f.time("updated_at")?,
                }))
            }
            _ => Ok(None),
        }
    }

    async fn reset(&self, counter: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.counters)
            .set_key(Some(key(counter.to_owned(), SK)))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
