//! The tenant registry in the directory table, every record under a `tenant#` or `apikey#`
//! partition (which IAM lets only the admin and tenant-API functions write):
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | tenant | `tenant#<id>` | `tenant` (+ `revision`, `lifecycle` for conditions) |
//! | listing entry | `tenant#_index` | `<id>` |
//! | tombstone of a deleted tenant | `tenant#<id>` | `tombstone` |
//! | key, as its tenant lists it | `tenant#<id>` | `apikey#<key id>` |
//! | key, as requests find it | `apikey#<hash>` | `apikey` |
//! | idempotency record | `tenant#<id>`, `tenant#_operator` or `tenant#_signup#<console user>` | `idempotency#<digest>` |
//!
//! and, written by every function that authenticates keys, a key's last use at
//! `<tenant>#keyuse` / `<key id>`. Tenant ids cannot contain `_`, so `tenant#_index`,
//! `tenant#_operator` and `tenant#_signup#…` are nobody's tenant. A tenant created by
//! sign-up gets its first owner's items (crates/dynamodb/src/members.rs) in the same
//! transaction.

use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::event::Event;
use authkit_domain::registry::{
    IdempotencyRecord, IdempotencyScope, KeyCreation, Page, TenantCreation, TenantRegistry,
    Written, KEY_USE_INTERVAL_SECS,
};
use authkit_domain::secret::SecretHash;
use authkit_domain::store::StoreError;
use authkit_domain::tenant::{ApiKeyEntry, ApiKeyId, Tenant, TenantId, TenantStatus};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};

use crate::directory::{api_key_item, api_key_lookup, key_kind, key_kind_name};
use crate::events::event_item;
use crate::item::{key, n, s, to_json, Fields, Item};
use crate::{condition_held, store_error, transaction_outcome, DynamoStore, TransactionOutcome};

const INDEX: &str = "tenant#_index";

fn tenant_key(id: &TenantId) -> Item {
    key(format!("tenant#{id}"), "tenant")
}

fn tombstone_key(id: &TenantId) -> Item {
    key(format!("tenant#{id}"), "tombstone")
}

fn listed_key(tenant: &TenantId, id: &ApiKeyId) -> Item {
    key(format!("tenant#{tenant}"), &format!("apikey#{id}"))
}

fn use_partition(tenant: &TenantId) -> String {
    format!("{tenant}#keyuse")
}

fn idempotency_key(scope: &IdempotencyScope, digest: &str) -> Item {
    let partition = match scope {
        IdempotencyScope::Operator => "tenant#_operator".to_owned(),
        IdempotencyScope::Tenant(tenant) => format!("tenant#{tenant}"),
        // Beside, not in, the member's index partition (`tenant#_member#…`), which is
        // read whole as memberships.
        IdempotencyScope::Signup(user) => format!("tenant#_signup#{user}"),
    };
    key(partition, &format!("idempotency#{digest}"))
}

/// The tenant item: the document, and beside it what conditions test (its revision and
/// whether it is deleted) and, once deleted, its TTL.
pub(crate) fn tenant_item(tenant: &Tenant) -> Result<Item, StoreError> {
    let mut item = tenant_key(&tenant.id);
    item.extend([
        ("document".to_owned(), s(to_json(tenant)?)),
        ("revision".to_owned(), n(tenant.revision)),
        ("lifecycle".to_owned(), s(tenant.status.as_str())),
    ]);
    if let Some(purge_at) = tenant.purge_at {
        item.insert("ttl".to_owned(), n(purge_at.0));
    }
    Ok(item)
}

fn index_item(tenant: &Tenant) -> Result<Item, StoreError> {
    let mut item = key(INDEX.to_owned(), tenant.id.as_str());
    item.insert("document".to_owned(), s(to_json(tenant)?));
    Ok(item)
}

fn listed_item(entry: &ApiKeyEntry) -> Item {
    let mut item = listed_key(&entry.tenant, &entry.id);
    item.extend([
        ("key_id".to_owned(), s(entry.id.as_str())),
        ("tenant".to_owned(), s(entry.tenant.as_str())),
        ("hash".to_owned(), s(entry.hash.to_hex())),
        ("kind".to_owned(), s(key_kind_name(entry.kind))),
        ("prefix".to_owned(), s(entry.prefix.as_str())),
        ("created_at".to_owned(), n(entry.created_at.0)),
    ]);
    if let Some(expires_at) = entry.expires_at {
        item.insert("expires_at".to_owned(), n(expires_at.0));
    }
    if let Some(revoked_at) = entry.revoked_at {
        item.insert("revoked_at".to_owned(), n(revoked_at.0));
    }
    item
}

fn entry_from(item: &Item, last_used_at: Option<Timestamp>) -> Result<ApiKeyEntry, StoreError> {
    let f = Fields(item);
    Ok(ApiKeyEntry {
        id: f.parsed("key_id", ApiKeyId::parse)?,
        hash: f.parsed("hash", SecretHash::from_hex)?,
        tenant: f.parsed("tenant", TenantId::parse)?,
        kind: key_kind(f.str("kind")?)?,
        prefix: f.str("prefix")?.to_owned(),
        created_at: f.time("created_at")?,
        expires_at: f.opt_time("expires_at")?,
        revoked_at: f.opt_time("revoked_at")?,
        last_used_at,
    })
}

fn record_item(record: &IdempotencyRecord) -> Result<Item, StoreError> {
    let mut item = idempotency_key(&record.scope, &record.key_digest);
    item.extend([
        ("fingerprint".to_owned(), s(record.fingerprint.as_str())),
        ("seed".to_owned(), s(record.seed.as_str())),
        ("created".to_owned(), s(to_json(&record.created)?)),
        ("created_at".to_owned(), n(record.created_at.0)),
        ("expires_at".to_owned(), n(record.expires_at.0)),
        ("ttl".to_owned(), n(record.expires_at.0)),
    ]);
    Ok(item)
}

fn record_from(
    scope: &IdempotencyScope,
    digest: &str,
    item: &Item,
) -> Result<IdempotencyRecord, StoreError> {
    let f = Fields(item);
    Ok(IdempotencyRecord {
        scope: scope.clone(),
        key_digest: digest.to_owned(),
        fingerprint: f.str("fingerprint")?.to_owned(),
        seed: f.str("seed")?.to_owned(),
        created: f.json("created")?,
        created_at: f.time("created_at")?,
        expires_at: f.time("expires_at")?,
    })
}

fn now() -> Timestamp {
    authkit_domain::Clock::now(&authkit_domain::SystemClock)
}

pub(crate) fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl DynamoStore {
    pub(crate) fn put(
        &self,
        item: Item,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.tables.directory)
            .set_item(Some(item));
        if let Some(condition) = condition {
            put = put.condition_expression(condition);
        }
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    /// Puts a new idempotency record: only where none is, or an expired one (DynamoDB
    /// deletes by TTL lazily).
    fn put_record(&self, record: &IdempotencyRecord) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.directory)
            .set_item(Some(record_item(record)?))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(record.created_at.0))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// The tenant item and its listing entry, written only over the revision before.
    fn replace_tenant(&self, tenant: &Tenant) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.directory)
            .set_item(Some(tenant_item(tenant)?))
            .condition_expression(
                "attribute_exists(pk) AND revision = :previous AND lifecycle <> :deleted",
            )
            .expression_attribute_values(":previous", n(tenant.revision.saturating_sub(1)))
            .expression_attribute_values(":deleted", s(TenantStatus::Deleted.as_str()))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// The change's event, in the events table (the outbox), in the change's transaction.
    pub(crate) fn record_event(&self, event: &Event) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.events)
            .set_item(Some(event_item(event)?))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// A new key's two records, its listing entry and its lookup item, each only if new.
    fn insert_key(&self, entry: &ApiKeyEntry) -> Result<[TransactWriteItem; 2], StoreError> {
        Ok([
            self.put(listed_item(entry), Some("attribute_not_exists(pk)"))?,
            self.put(
                api_key_item(&entry.record()),
                Some("attribute_not_exists(pk)"),
            )?,
        ])
    }

    /// Writes a creation whole. A refusal of its idempotency record (at `record_index`, when
    /// it has one) means the key was used for another request; any other, a conflict.
    async fn write_creation(
        &self,
        items: Vec<TransactWriteItem>,
        record_index: Option<usize>,
    ) -> Result<Written, StoreError> {
        Ok(match self.write(items).await? {
            TransactionOutcome::Written => Written::Done,
            TransactionOutcome::ConditionFailed(failed)
                if record_index.is_some_and(|i| failed.contains(&i)) =>
            {
                Written::IdempotencyKeyTaken
            }
            TransactionOutcome::ConditionFailed(_) => Written::Conflict,
        })
    }

    pub(crate) async fn write(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<TransactionOutcome, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(crate::request_token())
            .send()
            .await;
        transaction_outcome(result)
    }

    async fn listed_item(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
    ) -> Result<Option<Item>, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, listed_key(tenant, id))
            .await?;
        let now = now();
        Ok(item.filter(|item| !Fields(item).expired(now)))
    }

    /// Sets `expression` on both records of a key (its listing entry and its lookup item).
    fn update_key(
        &self,
        item: Item,
        expression: &str,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.tables.directory)
            .set_key(Some(item))
            .update_expression(expression);
        if let Some(condition) = condition {
            update = update.condition_expression(condition);
        }
        for (name, value) in values {
            update = update.expression_attribute_values(*name, value.clone());
        }
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    async fn last_uses(
        &self,
        tenant: &TenantId,
        entries: &[&Item],
    ) -> Result<std::collections::HashMap<String, Timestamp>, StoreError> {
        let ids: Vec<&str> = entries
            .iter()
            .filter_map(|item| Fields(item).str("key_id").ok())
            .collect();
        let (Some(low), Some(high)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(Default::default());
        };
        let output = self
            .client
            .query()
            .table_name(&self.tables.directory)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(use_partition(tenant)))
            .expression_attribute_values(":low", s(*low))
            .expression_attribute_values(":high", s(*high))
            .send()
            .await
            .map_err(store_error)?;
        output
            .items()
            .iter()
            .map(|item| {
                let f = Fields(item);
                Ok((f.str("sk")?.to_owned(), f.time("last_used_at")?))
            })
            .collect()
    }
}

#[async_trait]
impl TenantRegistry for DynamoStore {
    async fn create_tenant(&self, creation: &TenantCreation) -> Result<Written, StoreError> {
        let tenant = &creation.tenant;
        let mut items = Vec::new();
        if let Some(record) = &creation.idempotency {
            items.push(self.put_record(record)?);
        }
        let record_index = creation.idempotency.as_ref().map(|_| 0);
        items.push(self.put(tenant_item(tenant)?, Some("attribute_not_exists(pk)"))?);
        let never_deleted = ConditionCheck::builder()
            .table_name(&self.tables.directory)
            .set_key(Some(tombstone_key(&tenant.id)))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        items.push(
            TransactWriteItem::builder()
                .condition_check(built(never_deleted)?)
                .build(),
        );
        items.push(self.put(index_item(tenant)?, None)?);
        for entry in &creation.keys {
            items.extend(self.insert_key(entry)?);
        }
        items.push(self.record_event(&creation.event)?);
        if let Some(owner) = &creation.owner {
            items.extend(self.first_owner(owner)?);
        }
        self.write_creation(items, record_index).await
    }

    async fn list_tenants(
        &self,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<Page<Tenant>, StoreError> {
        let start = after.map(|after| key(INDEX.to_owned(), after.as_str()));
        let output = self
            .client
            .query()
            .table_name(&self.tables.directory)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(INDEX))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let mut tenants = output
            .items()
            .iter()
            .map(|item| Fields(item).json::<Tenant>("document"))
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = tenants.len() > limit;
        tenants.truncate(limit);
        Ok(Page {
            items: tenants,
            has_more,
        })
    }

    async fn update_tenant(&self, tenant: &Tenant, event: &Event) -> Result<bool, StoreError> {
        let items = vec![
            self.replace_tenant(tenant)?,
            self.put(index_item(tenant)?, None)?,
            self.record_event(event)?,
        ];
        Ok(matches!(
            self.write(items).await?,
            TransactionOutcome::Written
        ))
    }

    async fn delete_tenant(&self, tenant: &Tenant, event: &Event) -> Result<bool, StoreError> {
        let mut tombstone = tombstone_key(&tenant.id);
        tombstone.insert(
            "deleted_at".to_owned(),
            n(tenant.updated_at.unwrap_or(now()).0),
        );
        let unlist = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.tables.directory)
            .set_key(Some(key(INDEX.to_owned(), tenant.id.as_str())))
            .build();
        let items = vec![
            self.replace_tenant(tenant)?,
            TransactWriteItem::builder().delete(built(unlist)?).build(),
            self.put(tombstone, None)?,
            self.record_event(event)?,
        ];
        Ok(matches!(
            self.write(items).await?,
            TransactionOutcome::Written
        ))
    }

    async fn purge_api_keys_at(
        &self,
        tenant: &TenantId,
        purge_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.tables.directory)
                .key_condition_expression("pk = :pk AND begins_with(sk, :keys)")
                .expression_attribute_values(":pk", s(format!("tenant#{tenant}")))
                .expression_attribute_values(":keys", s("apikey#"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            for item in output.items() {
                let hash = Fields(item).parsed("hash", SecretHash::from_hex)?;
                let listed = key(Fields(item).str("pk")?.to_owned(), Fields(item).str("sk")?);
                for target in [listed, api_key_lookup(&hash)] {
                    self.client
                        .update_item()
                        .table_name(&self.tables.directory)
                        .set_key(Some(target))
                        .update_expression("SET #ttl = :purge")
                        .expression_attribute_names("#ttl", "ttl")
                        .expression_attribute_values(":purge", n(purge_at.0))
                        .send()
                        .await
                        .map_err(store_error)?;
                }
            }
            match output.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => return Ok(()),
            }
        }
    }

    async fn create_api_key(&self, creation: &KeyCreation) -> Result<Written, StoreError> {
        let entry = &creation.key;
        let mut items = Vec::new();
        if let Some(record) = &creation.idempotency {
            items.push(self.put_record(record)?);
        }
        let record_index = creation.idempotency.as_ref().map(|_| 0);
        if let Some((old, expires_at)) = &creation.replacing {
            let Some(listed) = self.listed_item(&entry.tenant, old).await? else {
                return Ok(Written::Conflict);
            };
            let hash = Fields(&listed).parsed("hash", SecretHash::from_hex)?;
            let values = [(":expires", n(expires_at.0))];
            items.push(self.update_key(
                listed_key(&entry.tenant, old),
                "SET expires_at = :expires",
                Some("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
                &values,
            )?);
            items.push(self.update_key(
                api_key_lookup(&hash),
                "SET expires_at = :expires",
                None,
                &values,
            )?);
        }
        items.extend(self.insert_key(entry)?);
        items.push(self.record_event(&creation.event)?);
        self.write_creation(items, record_index).await
    }

    async fn list_api_keys(
        &self,
        tenant: &TenantId,
        after: Option<&ApiKeyId>,
        limit: usize,
    ) -> Result<Page<ApiKeyEntry>, StoreError> {
        let start = after.map(|after| listed_key(tenant, after));
        let output = self
            .client
            .query()
            .table_name(&self.tables.directory)
            .key_condition_expression("pk = :pk AND begins_with(sk, :keys)")
            .expression_attribute_values(":pk", s(format!("tenant#{tenant}")))
            .expression_attribute_values(":keys", s("apikey#"))
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let now = now();
        let live: Vec<&Item> = output
            .items()
            .iter()
            .filter(|item| !Fields(item).expired(now))
            .collect();
        let has_more = live.len() > limit;
        let page: Vec<&Item> = live.into_iter().take(limit).collect();
        let uses = self.last_uses(tenant, &page).await?;
        let items = page
            .into_iter()
            .map(|item| {
                let id = Fields(item).str("key_id")?;
                entry_from(item, uses.get(id).copied())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, has_more })
    }

    async fn get_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKeyEntry>, StoreError> {
        let Some(item) = self.listed_item(tenant, id).await? else {
            return Ok(None);
        };
        let uses = self.last_uses(tenant, &[&item]).await?;
        entry_from(&item, uses.get(id.as_str()).copied()).map(Some)
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        now: Timestamp,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let Some(listed) = self.listed_item(tenant, id).await? else {
            return Ok(false);
        };
        let hash = Fields(&listed).parsed("hash", SecretHash::from_hex)?;
        let at = [(":now", n(now.0)), (":revoked", AttributeValue::Bool(true))];
        let items = vec![
            self.update_key(
                listed_key(tenant, id),
                "SET revoked_at = :now",
                Some("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
                &at[..1],
            )?,
            self.update_key(
                api_key_lookup(&hash),
                "SET revoked = :revoked, revoked_at = :now",
                Some("attribute_exists(pk)"),
                &at,
            )?,
            self.record_event(event)?,
        ];
        Ok(matches!(
            self.write(items).await?,
            TransactionOutcome::Written
        ))
    }

    async fn record_key_use(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(use_partition(tenant), id.as_str())))
            .update_expression("SET last_used_at = :now")
            .condition_expression("attribute_not_exists(last_used_at) OR last_used_at <= :stale")
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":stale", n(now.0 - KEY_USE_INTERVAL_SECS))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    async fn find_idempotency(
        &self,
        scope: &IdempotencyScope,
        key_digest: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, idempotency_key(scope, key_digest))
            .await?;
        match item.as_ref() {
            Some(item) if !Fields(item).expired(now) => {
                let record = record_from(scope, key_digest, item)?;
                if record.expires_at <= now {
                    return Ok(None);
                }
                Ok(Some(record))
            }
            Some(_) | None => Ok(None),
        }
    }
}
