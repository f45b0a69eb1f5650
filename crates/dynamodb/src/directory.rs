//! The directory table: tenants (`tenant#<id>`), API keys (`apikey#<hash>`), users
//! (`<tenant>#identifier#<identifier>` and `<tenant>#user#<id>`) and refresh-token
//! families (`<tenant>#family#<id>`).

use async_trait::async_trait;
use authkit_domain::device::DeviceId;
use authkit_domain::identifier::Identifier;
use authkit_domain::secret::SecretHash;
use authkit_domain::store::{SessionStore, StoreError, TenantStore, UserStore};
use authkit_domain::tenant::{ApiKeyRecord, KeyKind, Tenant, TenantId};
use authkit_domain::token::{FamilyId, RefreshFamily};
use authkit_domain::user::{User, UserId};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::item::{corrupt, key, n, s, to_json, Fields, Item};
use crate::{store_error, DynamoStore};

pub(crate) fn identifier_key(tenant: &TenantId, identifier: &Identifier) -> Item {
    key(
        format!("{tenant}#identifier#{}", identifier.matching_key()),
        "user",
    )
}

pub(crate) fn user_key(tenant: &TenantId, id: &UserId) -> Item {
    key(format!("{tenant}#user#{id}"), "user")
}

pub(crate) fn family_key(tenant: &TenantId, id: &FamilyId) -> Item {
    key(format!("{tenant}#family#{id}"), "family")
}

/// A user's two items: under its identifier and under its id.
pub(crate) fn user_items(user: &User) -> [Item; 2] {
    [
        identifier_key(&user.tenant, &user.identifier),
        user_key(&user.tenant, &user.id),
    ]
    .map(|mut item| {
        item.extend(user_fields(user));
        item
    })
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

#[async_trait]
impl UserStore for DynamoStore {
    async fn find(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.directory)
            .set_key(Some(identifier_key(tenant, identifier)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item().map(user_from).transpose()
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

pub(crate) fn family_item(family: &RefreshFamily) -> Result<Item, StoreError> {
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
    Ok(item)
}

#[async_trait]
impl SessionStore for DynamoStore {
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
