//! DynamoDB implementations of AuthKit's store traits, and the table definitions
//! (`tables.json`, the single source of truth shared with tests, LocalStack and Terraform).
//!
//! Every state change that guards a limit is one conditional write, and every change with
//! its events one transaction; see docs/data-model.md for keys, items and conditions.
//! [`stream`] turns the events table's stream records back into domain events for the
//! `authkit-events` function.

mod audit;
mod challenges;
mod changes;
mod counters;
mod devices;
mod directory;
mod events;
mod item;
mod members;
mod migrations;
pub mod stream;
mod tenants;

use std::sync::Arc;
use std::time::Duration;

use item::Item;

use authkit_domain::store::{AuditLog, StoreError, Stores};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, WriteRequest,
};
pub use migrations::{migrate, migrate_at_pace, MigrationPace, MigrationReport, CURRENT_VERSION};
use serde::Deserialize;

/// One table of `tables.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TableDefinition {
    pub name: String,
    pub purpose: String,
    pub partition_key: String,
    pub sort_key: String,
    pub ttl_attribute: String,
    /// The environment variable that carries the deployed table's name.
    pub env: String,
    /// The table's stream view type, when it has a stream (`NEW_IMAGE`).
    #[serde(default)]
    pub stream: Option<String>,
}

#[derive(Deserialize)]
struct TableFile {
    tables: Vec<TableDefinition>,
}

/// The parsed `tables.json`.
pub fn table_definitions() -> Vec<TableDefinition> {
    let file: TableFile = serde_json::from_str(include_str!("../tables.json"))
        .expect("tables.json is valid (checked by a unit test)");
    file.tables
}

/// The deployed names of AuthKit's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub challenges: String,
    pub devices: String,
    pub counters: String,
    pub audit: String,
    pub directory: String,
    pub events: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not set")]
pub struct MissingTableVar(pub String);

impl TableNames {
    /// `prefix` + logical name, for tests and local runs.
    pub fn with_prefix(prefix: &str) -> TableNames {
        TableNames::from_lookup(&|env: &str| {
            table_definitions()
                .into_iter()
                .find(|t| t.env == env)
                .map(|t| format!("{prefix}{}", t.name))
        })
        .expect("every table has a name")
    }

    pub fn from_env() -> Result<TableNames, MissingTableVar> {
        TableNames::from_lookup(&|name: &str| std::env::var(name).ok())
    }

    /// Reads each table's name from the variable `tables.json` names for it.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TableNames, MissingTableVar> {
        let name = |logical: &str| {
            let definition = table_definitions()
                .into_iter()
                .find(|t| t.name == logical)
                .expect("the table is defined in tables.json");
            lookup(&definition.env).ok_or(MissingTableVar(definition.env))
        };
        Ok(TableNames {
            challenges: name("challenges")?,
            devices: name("devices")?,
            counters: name("counters")?,
            audit: name("audit")?,
            directory: name("directory")?,
            events: name("events")?,
        })
    }

    fn deployed_name(&self, logical: &str) -> &str {
        match logical {
            "challenges" => &self.challenges,
            "devices" => &self.devices,
            "counters" => &self.counters,
            "audit" => &self.audit,
            "events" => &self.events,
            _ => &self.directory,
        }
    }
}

/// Every store on DynamoDB, sharing one client. Throttled requests are retried by the SDK
/// with exponential backoff and jitter before a `StoreError::Throttled` reaches the domain.
pub fn dynamodb_stores(client: aws_sdk_dynamodb::Client, tables: TableNames) -> Stores {
    let store = DynamoStore::new(client, tables);
    Stores {
        changes: store.clone(),
        challenges: store.clone(),
        counters: store.clone(),
        users: store.clone(),
        devices: store.clone(),
        sessions: store.clone(),
        tenants: store.clone(),
        registry: store.clone(),
        members: store.clone(),
        audit: store,
    }
}

/// The audit log alone (the `authkit-events` function's consumer, and health's probe).
pub fn dynamodb_audit_log(
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
) -> Arc<dyn AuditLog> {
    DynamoStore::new(client, tables)
}

/// One client, six tables; each store trait is implemented in its own module.
pub(crate) struct DynamoStore {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) tables: TableNames,
    /// Counters this process found at their max, until their window ends (see `counters`).
    pub(crate) full_counters: counters::FullCounters,
}

impl DynamoStore {
    fn new(client: aws_sdk_dynamodb::Client, tables: TableNames) -> Arc<DynamoStore> {
        let retry = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(25));
        let client = aws_sdk_dynamodb::Client::from_conf(
            client.config().to_builder().retry_config(retry).build(),
        );
        Arc::new(DynamoStore {
            client,
            tables,
            full_counters: counters::FullCounters::default(),
        })
    }
}

/// `BatchWriteItem` takes at most 25 requests.
const BATCH: usize = 25;
/// Rounds of resending what `BatchWriteItem` left unprocessed (throttled) before failing.
const UNPROCESSED_ROUNDS: u32 = 6;

impl DynamoStore {
    /// Sends `requests` to `table`, 25 to a request and the batches in parallel, resending
    /// what DynamoDB left unprocessed.
    pub(crate) async fn write_batches(
        &self,
        table: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let batches = requests.chunks(BATCH).map(|batch| async move {
            let mut pending = batch.to_vec();
            for round in 0..UNPROCESSED_ROUNDS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(store_error)?;
                pending = output
                    .unprocessed_items()
                    .and_then(|tables| tables.get(table))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(25 << round)).await;
            }
            Err(StoreError::Throttled(
                format!("writes to {table} stayed unprocessed").into(),
            ))
        });
        futures::future::try_join_all(batches).await.map(|_| ())
    }

    /// Every item of partition `pk` of `table` whose sort key starts with `prefix` (None:
    /// all), all pages, read strongly consistent.
    pub(crate) async fn partition_items(
        &self,
        table: &str,
        pk: String,
        prefix: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let query = self
                .client
                .query()
                .table_name(table)
                .expression_attribute_values(":pk", item::s(pk.clone()));
            let query = match prefix {
                Some(prefix) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", item::s(prefix)),
                None => query.key_condition_expression("pk = :pk"),
            };
            let output = query
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            items.extend(output.items().iter().cloned());
            match output.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Deletes the items with these keys from `table` (absent ones are no error), one
    /// DeleteItem each, in parallel: the functions' roles allow single-item writes only.
    pub(crate) async fn delete_items(
        &self,
        table: &str,
        keys: Vec<Item>,
    ) -> Result<(), StoreError> {
        let deletes = keys.into_iter().map(|key| async move {
            self.client
                .delete_item()
                .table_name(table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(store_error)
        });
        futures::future::try_join_all(deletes).await.map(|_| ())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateTablesError {
    #[error("creating table {table} failed")]
    Create {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("table {0} did not become active in time")]
    NotActive(String),
}

/// Creates the tables of `tables.json` (on-demand, TTL on) unless they exist; waits until
/// they are active. Used by tests, the local server's `create-tables` and LocalStack init.
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
) -> Result<(), CreateTablesError> {
    for definition in table_definitions() {
        let name = tables.deployed_name(&definition.name).to_owned();
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| CreateTablesError::Create {
            table: name.clone(),
            source,
        };
        let key = |attribute: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(kind)
                .build()
                .map_err(|e| failed(Box::new(e)))
        };
        let attribute = |attribute: &str| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| failed(Box::new(e)))
        };
        let stream = match definition.stream.as_deref() {
            None => None,
            Some(view) => Some(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view))
                    .build()
                    .map_err(|e| failed(Box::new(e)))?,
            ),
        };
        let created = client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(&definition.partition_key, KeyType::Hash)?)
            .key_schema(key(&definition.sort_key, KeyType::Range)?)
            .attribute_definitions(attribute(&definition.partition_key)?)
            .attribute_definitions(attribute(&definition.sort_key)?)
            .set_stream_specification(stream)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                continue
            }
            Err(error) => return Err(failed(Box::new(error.into_service_error()))),
        }
        wait_until_active(client, &name).await?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(&definition.ttl_attribute)
            .build()
            .map_err(|e| failed(Box::new(e)))?;
        client
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| failed(Box::new(e.into_service_error())))?;
    }
    Ok(())
}

async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), CreateTablesError> {
    for _ in 0..120 {
        let described = client.describe_table().table_name(name).send().await;
        let active = described
            .ok()
            .and_then(|d| d.table)
            .and_then(|t| t.table_status)
            .is_some_and(|s| s == aws_sdk_dynamodb::types::TableStatus::Active);
        if active {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(CreateTablesError::NotActive(name.to_owned()))
}

/// Service errors that can say "the write's condition did not hold".
pub(crate) trait ConditionalError {
    fn condition_failed(&self) -> bool;
}

macro_rules! conditional_error {
    ($($error:ty),*) => {$(
        impl ConditionalError for $error {
            fn condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )*};
}

conditional_error!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

/// A conditional write's outcome: applied (true), its condition did not hold (false), or
/// a store failure.
impl DynamoStore {
    /// One item by its key, read strongly consistent: what a store reads decides its next
    /// write.
    pub(crate) async fn consistent_item(
        &self,
        table: &str,
        key: Item,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output.item)
    }
}

/// A fresh `ClientRequestToken` for one transaction: the SDK sends the same token on each
/// retry of it, so DynamoDB answers a retry of a transaction that was applied (its answer
/// lost to a timeout) with success instead of judging its conditions again against what
/// it wrote itself (a created tenant refused as existing, a consumed code as used).
pub(crate) fn request_token() -> String {
    let mut bytes = [0u8; 16];
    authkit_domain::Randomness::fill(&authkit_domain::clock::OsRandomness, &mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(crate) fn condition_held<O, E>(
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<bool, StoreError>
where
    E: ConditionalError + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(ConditionalError::condition_failed) =>
        {
            Ok(false)
        }
        Err(error) => Err(store_error(error)),
    }
}

/// How a `TransactWriteItems` ended, when the store answered.
pub(crate) enum TransactionOutcome {
    Written,
    /// Cancelled because the conditions of the actions at these indexes (never none) did
    /// not hold.
    ConditionFailed(Vec<usize>),
}

pub(crate) fn transaction_outcome<O>(
    result: Result<
        O,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    >,
) -> Result<TransactionOutcome, StoreError> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    let error = match result {
        Ok(_) => return Ok(TransactionOutcome::Written),
        Err(error) => error,
    };
    let reasons: Vec<Option<String>> = match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let failed: Vec<usize> = reasons
        .iter()
        .enumerate()
        .filter(|(_, code)| code.as_deref() == Some("ConditionalCheckFailed"))
        .map(|(index, _)| index)
        .collect();
    // Another transaction on one of the items, or throttling: worth retrying shortly.
    let contended = reasons.iter().any(|code| {
        matches!(
            code.as_deref(),
            Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
        )
    });
    if !failed.is_empty() {
        Ok(TransactionOutcome::ConditionFailed(failed))
    } else if contended {
        Err(StoreError::Throttled(Box::new(error)))
    } else {
        Err(store_error(error))
    }
}

/// Maps an SDK failure to the domain's view: throttled (the SDK already retried) or
/// unavailable, with the cause kept for logs.
pub(crate) fn store_error<E>(
    error: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let throttled = matches!(
        error.code(),
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TransactionConflictException"
        )
    );
    let source: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
    if throttled {
        StoreError::Throttled(source)
    } else {
        StoreError::Unavailable(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_file_defines_six_tables_with_distinct_variables_and_one_stream() {
        let tables = table_definitions();
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "challenges",
                "devices",
                "counters",
                "audit",
                "directory",
                "events"
            ]
        );
        let mut envs: Vec<&str> = tables.iter().map(|t| t.env.as_str()).collect();
        envs.sort_unstable();
        envs.dedup();
        assert_eq!(envs.len(), 6);
        let streams: Vec<(&str, Option<&str>)> = tables
            .iter()
            .filter(|t| t.stream.is_some())
            .map(|t| (t.name.as_str(), t.stream.as_deref()))
            .collect();
        assert_eq!(streams, [("events", Some("NEW_IMAGE"))]);
    }

    #[test]
    fn names_come_from_a_prefix_or_the_variables() {
        let prefixed = TableNames::with_prefix("dev-");
        assert_eq!(prefixed.challenges, "dev-challenges");
        assert_eq!(prefixed.directory, "dev-directory");
        let missing = TableNames::from_lookup(&|name: &str| {
            (name != "AUTHKIT_TABLE_AUDIT").then(|| "x".to_owned())
        });
        assert_eq!(missing, Err(MissingTableVar("AUTHKIT_TABLE_AUDIT".into())));
    }
}
