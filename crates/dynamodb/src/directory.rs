//! The directory table: tenants (`tenant#<id>`), API keys (`apikey#<hash>`), users
//! (`<tenant>#identifier#<identifier>` and `<tenant>#user#<id>`) and refresh-token
//! families (`<tenant>#family#<id>`).

use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::device::DeviceId;
use authkit_domain::identifier::Identifier;
use authkit_domain::secret::SecretHash;
use authkit_domain::store::{SessionStore, StoreError, TenantStore, UserStore};
use authkit_domain::tenant::{ApiKeyId, ApiKeyRecord, KeyKind, Tenant, TenantId};
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

/// The full item of a user under `key` (its id's, or one of its identifiers').
pub(crate) fn user_item(user: &User, mut key: Item) -> Item {
    key.extend(user_fields(user));
    key
}

/// The keys of the items that hold a user: by id first, then by each identifier that
/// names them.
pub(crate) fn user_copies(user: &User) -> Vec<Item> {
    std::iter::once(user_key(&user.tenant, &user.id))
        .chain(
            user.identifiers()
                .into_iter()
                .map(|identifier| identifier_key(&user.tenant, identifier)),
        )
        .collect()
}

/// The attributes every copy of a user carries that change with its identifiers and
/// sign-ins: (set, removed).
pub(crate) fn identity_fields(
    user: &User,
) -> (Vec<(&'static str, AttributeValue)>, Vec<&'static str>) {
    let (mut set, mut removed) = (vec![("identifier", s(user.identifier.as_str()))], vec![]);
    match &user.second_identifier {
        Some(second) => set.push(("second_identifier", s(second.as_str()))),
        None => removed.push("second_identifier"),
    }
    for (name, at) in [
        ("last_sign_in_at", user.last_sign_in_at),
        ("identifier_reassigned_at", user.identifier_reassigned_at),
        ("phone_used_at", user.phone_used_at),
    ] {
        match at {
            Some(at) => set.push((name, n(at.0))),
            None => removed.push(name),
        }
    }
    (set, removed)
}

fn user_fields(user: &User) -> Vec<(String, AttributeValue)> {
    let mut fields = vec![
        ("tenant".to_owned(), s(user.tenant.as_str())),
        ("user_id".to_owned(), s(user.id.as_str())),
        ("created_at".to_owned(), n(user.created_at.0)),
    ];
    if let Some(at) = user.disabled_at {
        fields.push(("disabled_at".to_owned(), n(at.0)));
    }
    fields.extend(
        identity_fields(user)
            .0
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    fields
}

fn user_from(item: &Item) -> Result<User, StoreError> {
    let f = Fields(item);
    Ok(User {
        id: f.parsed("user_id", UserId::parse)?,
        tenant: f.parsed("tenant", TenantId::parse)?,
        identifier: f.parsed("identifier", |raw| Identifier::parse(raw, None))?,
        second_identifier: f
            .opt_str("second_identifier")?
            .map(|raw| Identifier::parse(raw, None))
            .transpose()
            .map_err(|_| corrupt("second_identifier"))?,
        created_at: f.time("created_at")?,
        disabled_at: f.opt_time("disabled_at")?,
        last_sign_in_at: f.opt_time("last_sign_in_at")?,
        identifier_reassigned_at: f.opt_time("identifier_reassigned_at")?,
        phone_used_at: f.opt_time("phone_used_at")?,
    })
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn find(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<User>, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, identifier_key(tenant, identifier))
            .await?;
        item.as_ref().map(user_from).transpose()
    }

    async fn get(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, user_key(tenant, id))
            .await?;
        item.as_ref().map(user_from).transpose()
    }

    async fn erase_belongings(&self, tenant: &TenantId, user: &UserId) -> Result<(), StoreError> {
        let belongings = self.user_partition(tenant, user, None).await?;
        let mut families = std::collections::BTreeSet::new();
        for item in &belongings {
            if let Some(family) = Fields(item).opt_str("family_id")? {
                families.insert(FamilyId::parse(family).map_err(|_| corrupt("family_id"))?);
            }
        }
        let families = families.iter().map(|id| family_key(tenant, id)).collect();
        let keys = belongings
            .iter()
            .map(|item| {
                let f = Fields(item);
                Ok(key(f.str("pk")?.to_owned(), f.str("sk")?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // The sessions first: a failure leaves the links that find them for a retry.
        self.delete_items(&self.tables.directory, families).await?;
        self.delete_items(&self.tables.devices, keys).await
    }
}

pub(crate) fn family_from(item: &Item) -> Result<RefreshFamily, StoreError> {
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
        let item = self
            .consistent_item(&self.tables.directory, family_key(tenant, id))
            .await?;
        let now = authkit_domain::Clock::now(&authkit_domain::SystemClock);
        match item.as_ref() {
            Some(item) if !Fields(item).expired(now) => family_from(item).map(Some),
            _ => Ok(None),
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let links = self.user_partition(tenant, user, Some(FAMILY_LINK)).await?;
        let reads = links
            .iter()
            .filter(|link| !Fields(link).expired(now))
            .map(|link| async move {
                let id = Fields(link).parsed("family_id", FamilyId::parse)?;
                SessionStore::get(self, tenant, &id).await
            });
        let mut families: Vec<RefreshFamily> = futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .filter(|family| now < family.expires_at)
            .collect();
        families.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(families)
    }
}

/// The sort key prefix of the links from a user to their sessions, beside their devices
/// in the devices table: found by one Query, written with the session.
pub(crate) const FAMILY_LINK: &str = "family#";

/// The link from a user to a session, expiring with it.
pub(crate) fn family_link(family: &RefreshFamily) -> Item {
    let mut link = key(
        crate::devices::partition(&family.tenant, &family.user_id),
        &format!("{FAMILY_LINK}{}", family.id),
    );
    link.extend([
        ("family_id".to_owned(), s(family.id.as_str())),
        ("ttl".to_owned(), n(family.expires_at.0)),
    ]);
    link
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let item = crate::tenants::tenant_item(tenant)?;
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
        let now = authkit_domain::Clock::now(&authkit_domain::SystemClock);
        output
            .item()
            .filter(|item| !Fields(item).expired(now))
            .map(|item| Fields(item).json("document"))
            .transpose()
    }

    async fn put_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.directory)
            .set_item(Some(api_key_item(record)))
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
            .set_key(Some(api_key_lookup(hash)))
            .send()
            .await
            .map_err(store_error)?;
        let now = authkit_domain::Clock::now(&authkit_domain::SystemClock);
        match output.item() {
            Some(item) if !Fields(item).expired(now) => {
                let f = Fields(item);
                Ok(Some(ApiKeyRecord {
                    hash: *hash,
                    tenant: f.parsed("tenant", TenantId::parse)?,
                    kind: key_kind(f.str("kind")?)?,
                    created_at: f.time("created_at")?,
                    revoked: f.bool("revoked")?,
                    id: f
                        .opt_str("key_id")?
                        .map(ApiKeyId::parse)
                        .transpose()
                        .map_err(|_| corrupt("key_id"))?,
                    expires_at: f.opt_time("expires_at")?,
                }))
            }
            _ => Ok(None),
        }
    }
}

/// `apikey#<hash>`: the item a request's key is found by.
pub(crate) fn api_key_lookup(hash: &SecretHash) -> Item {
    key(format!("apikey#{}", hash.to_hex()), "apikey")
}

/// The lookup item of a key; `key_id` and `expires_at` only where the key has them (keys
/// created before ids existed have neither).
pub(crate) fn api_key_item(record: &ApiKeyRecord) -> Item {
    let mut item = api_key_lookup(&record.hash);
    item.extend([
        ("tenant".to_owned(), s(record.tenant.as_str())),
        ("kind".to_owned(), s(key_kind_name(record.kind))),
        ("created_at".to_owned(), n(record.created_at.0)),
        ("revoked".to_owned(), AttributeValue::Bool(record.revoked)),
    ]);
    if let Some(id) = &record.id {
        item.insert("key_id".to_owned(), s(id.as_str()));
    }
    if let Some(expires_at) = record.expires_at {
        item.insert("expires_at".to_owned(), n(expires_at.0));
    }
    item
}

pub(crate) fn key_kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Secret => "secret",
        KeyKind::Publishable => "publishable",
    }
}

pub(crate) fn key_kind(name: &str) -> Result<KeyKind, StoreError> {
    match name {
        "secret" => Ok(KeyKind::Secret),
        "publishable" => Ok(KeyKind::Publishable),
        _ => Err(corrupt("kind")),
    }
}
