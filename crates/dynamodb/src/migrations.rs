//! Versioned changes to stored items, applied online by `authkit-local migrate` (an
//! operator step of an upgrade, docs/upgrades.md). The directory table's `meta#schema`
//! item records the version the tables are at; each step is idempotent and safe to run
//! while the previous release and this one serve traffic side by side, so an upgrade runs
//! it before and again after the new code goes live.

use authkit_domain::identifier::Identifier;
use authkit_domain::store::StoreError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::item::{key, n, Fields, Item};
use crate::{store_error, DynamoStore, TableNames};

/// The version a store written by this release is at.
pub const CURRENT_VERSION: u32 = 2;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub from_version: u32,
    pub to_version: u32,
    /// Items a step wrote.
    pub written: u64,
    /// Items a step could not convert because the new shape was already taken by another
    /// item (an operator must look at these; the step says which in its log line).
    pub conflicts: u64,
}

fn schema_key() -> Item {
    key("meta#schema".to_owned(), "version")
}

/// Brings the tables to [`CURRENT_VERSION`]. Tables that never recorded a version were
/// written by a release before versions existed (version 1).
pub async fn migrate(
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
) -> Result<MigrationReport, StoreError> {
    let store = DynamoStore::new(client, tables);
    let from_version = store.schema_version().await?;
    // The newest step runs again even when the version says it ran: that is harmless and
    // catches items the previous release wrote while this one was being rolled out. Each
    // later step follows the same shape, in version order.
    let (written, conflicts) = store.fold_identifier_keys().await?;
    store.record_version(CURRENT_VERSION).await?;
    Ok(MigrationReport {
        from_version,
        to_version: CURRENT_VERSION,
        written,
        conflicts,
    })
}

impl DynamoStore {
    async fn schema_version(&self) -> Result<u32, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(schema_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output
            .item()
            .map(|item| Fields(item).uint("version"))
            .transpose()
            .map(|version| version.unwrap_or(1))
    }

    async fn record_version(&self, version: u32) -> Result<(), StoreError> {
        let mut item = schema_key();
        item.insert("version".to_owned(), n(version));
        self.client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Version 2 (decision 31): users are found by their identifier's matching key, an
    /// email address with its local part case-folded. Items the previous release keyed by
    /// the address as typed (`acme#identifier#Dave@example.com`) get a copy under the new
    /// key; the old item is left (nothing reads it any more, and the previous release still
    /// can, so a rollback keeps working). Returns (written, conflicts).
    async fn fold_identifier_keys(&self) -> Result<(u64, u64), StoreError> {
        let (mut written, mut conflicts) = (0, 0);
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.tables.directory)
                .filter_expression("sk = :user AND contains(pk, :marker)")
                .expression_attribute_values(":user", AttributeValue::S("user".to_owned()))
                .expression_attribute_values(
                    ":marker",
                    AttributeValue::S("#identifier#".to_owned()),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            for item in page.items() {
                match self.fold_one(item).await? {
                    CopyOutcome::Written => written += 1,
                    CopyOutcome::Conflict => conflicts += 1,
                    CopyOutcome::AlreadyThere => {}
                }
            }
            match page.last_evaluated_key() {
                Some(last) => start = Some(last.clone()),
                None => return Ok((written, conflicts)),
            }
        }
    }

    async fn fold_one(&self, item: &Item) -> Result<CopyOutcome, StoreError> {
        let pk = Fields(item).str("pk")?;
        let (tenant, typed) = pk
            .split_once("#identifier#")
            .ok_or_else(|| StoreError::Corrupt(format!("identifier item key `{pk}`")))?;
        let identifier = Identifier::parse(typed, None)
            .map_err(|_| StoreError::Corrupt(format!("identifier item key `{pk}`")))?;
        if identifier.matching_key() == typed {
            return Ok(CopyOutcome::AlreadyThere);
        }
        let folded_pk = format!("{tenant}#identifier#{}", identifier.matching_key());
        let mut copy = item.clone();
        copy.insert("pk".to_owned(), AttributeValue::S(folded_pk.clone()));
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(copy))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let holder = match put {
            Ok(_) => return Ok(CopyOutcome::Written),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match error.into_service_error() {
                    PutItemError::ConditionalCheckFailedException(failed) => {
                        failed.item().and_then(|item| item.get("user_id")).cloned()
                    }
                    _ => None,
                }
            }
            Err(error) => return Err(store_error(error)),
        };
        if holder.is_some() && holder.as_ref() == item.get("user_id") {
            return Ok(CopyOutcome::AlreadyThere);
        }
        // Another user already holds the folded key: two accounts for one person, made
        // while the previous release and this one both served. Left for an operator,
        // never merged silently.
        tracing::warn!(
            tenant,
            outcome = "migration_conflict",
            "an identifier's folded key belongs to another user"
        );
        Ok(CopyOutcome::Conflict)
    }
}

enum CopyOutcome {
    Written,
    AlreadyThere,
    Conflict,
}
