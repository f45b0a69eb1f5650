//! Versioned changes to stored items, applied online by `authkit-local migrate` (an
//! operator step of an upgrade, docs/upgrades.md; the embedded store keeps nothing across
//! releases, so it has none). The directory table's `meta#schema`
//! item records the version the tables are at; each step is idempotent and safe to run
//! while the previous release and this one serve traffic side by side, so an upgrade runs
//! it before and again after the new code goes live.

use authkit_domain::identifier::Identifier;
use authkit_domain::store::StoreError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::directory::family_link;
use crate::item::{key, n, Fields, Item};
use crate::{store_error, DynamoStore, TableNames};

/// The version a store written by this release is at.
pub const CURRENT_VERSION: u32 = 3;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub from_version: u32,
    /// The version the tables are at now: [`CURRENT_VERSION`] once every step finished,
    /// else still `from_version`.
    pub to_version: u32,
    /// Items a step wrote (re-keyed identifiers, session links).
    pub written: u64,
    /// Items a step could not convert because the new shape was already taken by another
    /// item (an operator must look at these; the step says which in its log line).
    pub conflicts: u64,
    /// False when the run stopped at `MigrationPace::max_pages`: run it again, it goes on
    /// from where it stopped.
    pub finished: bool,
}

/// How much one run reads: a scan page's size, and how many pages a run reads before it
/// stops (None: until the end). A run that stops records where it was; the next run goes
/// on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationPace {
    pub page_size: i32,
    pub max_pages: Option<u32>,
}

impl Default for MigrationPace {
    fn default() -> MigrationPace {
        MigrationPace {
            page_size: 500,
            max_pages: None,
        }
    }
}

fn schema_key() -> Item {
    key("meta#schema".to_owned(), "version")
}

/// Where an unfinished session-link step stopped (the scan's last key).
fn session_links_position_key() -> Item {
    key("meta#migration".to_owned(), "session_links")
}

/// Brings the tables to [`CURRENT_VERSION`]. Tables that never recorded a version were
/// written by a release before versions existed (version 1).
pub async fn migrate(
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
) -> Result<MigrationReport, StoreError> {
    migrate_at_pace(client, tables, MigrationPace::default()).await
}

/// [`migrate`], reading at most what `pace` allows in this run.
pub async fn migrate_at_pace(
    client: aws_sdk_dynamodb::Client,
    tables: TableNames,
    pace: MigrationPace,
) -> Result<MigrationReport, StoreError> {
    let store = DynamoStore::new(client, tables);
    let from_version = store.schema_version().await?;
    // The steps run again even when the version says they ran: that is harmless and
    // catches items the previous release wrote while this one was being rolled out. Each
    // later step follows the same shape, in version order.
    let (folded, conflicts) = store.fold_identifier_keys().await?;
    let (linked, finished) = store.link_sessions(pace).await?;
    let to_version = if finished {
        store.record_version(CURRENT_VERSION).await?;
        CURRENT_VERSION
    } else {
        from_version
    };
    Ok(MigrationReport {
        from_version,
        to_version,
        written: folded + linked,
        conflicts,
        finished,
    })
}

impl DynamoStore {
    async fn schema_version(&self) -> Result<u32, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, schema_key())
            .await?;
        item.as_ref()
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

impl DynamoStore {
    /// Version 3 (decision 90): every session not yet expired gets the link in its user's
    /// partition that lists, revokes and erases it (sessions opened before the users API
    /// have none). A conditional put, so a link already there (written by a sign-in, or by
    /// an earlier run) is left alone. The scan's position is recorded after each page,
    /// so a run that stops (or fails) is resumed by the next; a finished run forgets it.
    /// Returns (links written, finished).
    async fn link_sessions(&self, pace: MigrationPace) -> Result<(u64, bool), StoreError> {
        let position = session_links_position_key();
        let mut start = self.read_position(&position).await?;
        let now = authkit_domain::Clock::now(&authkit_domain::SystemClock);
        let mut written = 0;
        let mut pages = 0;
        loop {
            if pace.max_pages.is_some_and(|max| pages >= max) {
                return Ok((written, false));
            }
            let page = self
                .client
                .scan()
                .table_name(&self.tables.directory)
                .filter_expression("sk = :family AND expires_at > :now")
                .expression_attribute_values(":family", AttributeValue::S("family".to_owned()))
                .expression_attribute_values(":now", n(now.0))
                .limit(pace.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            pages += 1;
            for item in page.items() {
                let family = crate::directory::family_from(item)?;
                if self
                    .put_if_absent(&self.tables.devices, family_link(&family))
                    .await?
                {
                    written += 1;
                }
            }
            match page.last_evaluated_key() {
                Some(last) if !last.is_empty() => {
                    let mut at = position.clone();
                    at.extend(
                        last.iter()
                            .map(|(name, value)| (format!("after_{name}"), value.clone())),
                    );
                    self.client
                        .put_item()
                        .table_name(&self.tables.directory)
                        .set_item(Some(at))
                        .send()
                        .await
                        .map_err(store_error)?;
                    start = Some(last.clone());
                }
                _ => {
                    self.client
                        .delete_item()
                        .table_name(&self.tables.directory)
                        .set_key(Some(position))
                        .send()
                        .await
                        .map_err(store_error)?;
                    return Ok((written, true));
                }
            }
        }
    }

    /// The scan key a stopped step recorded at `position`, if any.
    async fn read_position(&self, position: &Item) -> Result<Option<Item>, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, position.clone())
            .await?;
        Ok(item.as_ref().map(|item| {
            item.iter()
                .filter_map(|(name, value)| {
                    name.strip_prefix("after_")
                        .map(|name| (name.to_owned(), value.clone()))
                })
                .collect()
        }))
    }

    /// Puts `item` unless its key is taken: whether it was written.
    async fn put_if_absent(&self, table: &str, item: Item) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(store_error(error)),
        }
    }
}

enum CopyOutcome {
    Written,
    AlreadyThere,
    Conflict,
}
