//! The directory table: tenants (`tenant#<id>`), API keys (`apikey#<hash>`), users
//! (`<tenant>#identifier#<identifier>` and `<tenant>#user#<id>`) and refresh-token
//! families (`<tenant>#family#<id>`).

use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::device::DeviceId;
use authkit_domain::identifier::Identifier;
use authkit_domain::secret::SecretHash;
use authkit_domain::store::{SessionStore, StoreError, TenantStore, UserStore};
use authkit_domain::tenant::{ApiKeyRecord, KeyKind, Tenant, TenantId};
use authkit_domain::token::{FamilyId, RefreshFamily};
use authkit_domain::user::{User, UserId};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use crate::item::{corrupt, key, n, s, to_json, Fields, Item};
use crate::{condition_held, store_error, DynamoStore};

fn identifier_key(tenant: &TenantId, identifier: &Identifier) -> Item {
    key(
        format!("{tenant}#identifier#{}", identifier.matching_key()),
        "user",
    )
}

fn user_key(tenant: &TenantId, id: &UserId) -> Item {
    key(format!("{tenant}#user#{id}"), "user")
}

fn family_key(tenant: &TenantId, id: &FamilyId) -> Item {
    key(format!("{tenant}#family#{id}"), "family")
}

fn user_fields(user: &User) -> [(String, AttributeValue); 4] {
    [
        ("tenant".to_owned(), s(user.tenant.as_str())),
        ("user_id".to_owned(), s(user.id.as_str())),
        ("identifier".to_owned(), s(user.identifier.as_str())),
        ("created_at".to_owned(), n(user.created_at.0)),
    ]
}

fn user_from(item: &Item) -> Result<User, StoreError> {
    let f = Fields(item);
    Ok(User {
        id: f.parsed("user_id", UserId::parse)?,
        tenant: f.parsed("tenant", TenantId::parse)?,
        identifier: f.parsed("identifier", |raw| Identifier::parse(raw, None))?,
        created_at: f.time("created_at")?,
    })
}

fn conditional_put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[async_trait]
impl UserStore for DynamoStore {
    /// Both items (by identifier, by id) in one transaction, each only if absent: two
    /// concurrent first sign-ins create one user, and the loser reads the winner's.
    async fn find_or_create(&self, candidate: &User) -> Result<(User, bool), StoreError> {
        let mut by_identifier = identifier_key(&candidate.tenant, &candidate.identifier);
        by_identifier.extend(user_fields(candidate));
        let mut by_id = user_key(&candidate.tenant, &candidate.id);
        by_id.extend(user_fields(candidate));
        let created = self
            .client
            .transact_write_items()
            .transact_items(conditional_put(&self.tables.directory, by_identifier)?)
            .transact_items(conditional_put(&self.tables.directory, by_id)?)
            .send()
            .await;
        match created {
            Ok(_) => Ok((candidate.clone(), true)),
            Err(error) => {
                let cancelled = matches!(
                    error.as_service_error(),
                    Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(_))
                );
                if !cancelled {
                    return Err(store_error(error));
                }
                let existing = self
                    .client
                    .get_item()
                    .table_name(&self.tables.directory)
                    .set_key(Some(identifier_key(
                        &candidate.tenant,
                        &candidate.identifier,
                    )))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(store_error)?;
                let item = existing.item().ok_or_else(|| {
                    StoreError::Throttled("a concurrent sign-in is creating this user".into())
                })?;
                Ok((user_from(item)?, false))
            }
        }
    }

    async fn get(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(user_key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item().map(user_from).transpose()
    }
}

fn family_from(item: &Item) -> Result<RefreshFamily, StoreError> {
    let f = Fields(item);
    Ok(RefreshFamily {
        id: f.parsed("family_id", FamilyId::parse)?,
        tenant: f.parsed("tenant", TenantId::parse)?,
        user_id: f.parsed("user_id", UserId::parse)?,
        device_id: f
            .opt_str("device_id")?
            .map(DeviceId::parse)
            .transpose()
            .map_err(|_| corrupt("device_id"))?,
        amr: f.json("amr")?,
        current_hash: f.parsed("current_hash", SecretHash::from_hex)?,
        generation: f.uint("generation")?,
        created_at: f.time("created_at")?,
        // Families the release before rotation times existed wrote: never rotated since.
        rotated_at: f
            .opt_time("rotated_at")?
            .map_or_else(|| f.time("created_at"), Ok)?,
        expires_at: f.time("expires_at")?,
        revoked_at: f.opt_time("revoked_at")?,
    })
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn insert(&self, family: &RefreshFamily) -> Result<(), StoreError> {
        let mut item = family_key(&family.tenant, &family.id);
        item.extend([
            ("family_id".to_owned(), s(family.id.as_str())),
            ("tenant".to_owned(), s(family.tenant.as_str())),
            ("user_id".to_owned(), s(family.user_id.as_str())),
            ("amr".to_owned(), s(to_json(&family.amr)?)),
            ("current_hash".to_owned(), s(family.current_hash.to_hex())),
            ("generation".to_owned(), n(family.generation)),
            ("created_at".to_owned(), n(family.created_at.0)),
            ("rotated_at".to_owned(), n(family.rotated_at.0)),
            ("expires_at".to_owned(), n(family.expires_at.0)),
            ("ttl".to_owned(), n(family.expires_at.0)),
        ]);
        if let Some(device) = &family.device_id {
            item.insert("device_id".to_owned(), s(device.as_str()));
        }
        self.insert_new(&self.tables.directory, item).await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(family_key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let now = authkit_domain::Clock::now(&authkit_domain::SystemClock);
        match output.item() {
            Some(item) if !Fields(item).expired(now) => family_from(item).map(Some),
            _ => Ok(None),
        }
    }

    /// Rotation wins only for the request that still holds the current hash.
    async fn rotate(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
        expected: &SecretHash,
        next: &SecretHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.directory)
            .set_key(Some(family_key(tenant, id)))
            .condition_expression("current_hash = :expected AND attribute_not_exists(revoked_at)")
            .update_expression(
                "SET current_hash = :next, generation = generation + :one, rotated_at = :now",
            )
            .expression_attribute_values(":expected", s(expected.to_hex()))
            .expression_attribute_values(":next", s(next.to_hex()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.0))
            .send()
            .await;
        condition_held(result)
    }

    async fn revoke(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.directory)
            .set_key(Some(family_key(tenant, id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .expression_attribute_values(":now", n(now.0))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut item = key(format!("tenant#{}", tenant.id), "tenant");
        item.insert("document".to_owned(), s(to_json(tenant)?));
        self.client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(format!("tenant#{id}"), "tenant")))
            .send()
            .await
            .map_err(store_error)?;
        output
            .item()
            .map(|item| Fields(item).json("document"))
            .transpose()
    }

    async fn put_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut item = key(format!("apikey#{}", record.hash.to_hex()), "apikey");
        item.extend([
            ("tenant".to_owned(), s(record.tenant.as_str())),
            (
                "kind".to_owned(),
                s(if record.kind == KeyKind::Secret {
                    "secret"
                } else {
                    "publishable"
                }),
            ),
            ("created_at".to_owned(), n(record.created_at.0)),
            ("revoked".to_owned(), AttributeValue::Bool(record.revoked)),
        ]);
        self.client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn find_api_key(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(key(format!("apikey#{}", hash.to_hex()), "apikey")))
            .send()
            .await
            .map_err(store_error)?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let f = Fields(item);
        let kind = match f.str("kind")? {
            "secret" => KeyKind::Secret,
            "publishable" => KeyKind::Publishable,
            _ => return Err(corrupt("kind")),
        };
        Ok(Some(ApiKeyRecord {
            hash: *hash,
            tenant: f.parsed("tenant", TenantId::parse)?,
            kind,
            created_at: f.time("created_at")?,
            revoked: f.bool("revoked")?,
        }))
    }
}
