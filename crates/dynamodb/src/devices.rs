//! Devices: `pk = <tenant>#user#<user id>`, `sk = device#<device id>`, so a user's devices
//! are one Query; beside each device, one item per session it signed in
//! (`sk = session#<device id>#<family id>`, expiring with the session), so revoking the
//! device finds its sessions with one Query too.

use crate::item::{corrupt, key, n, s, to_json, Fields, Item};
use crate::DynamoStore;
use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::device::{Device, DeviceId, TrustLevel};
use authkit_domain::secret::SecretHash;
use authkit_domain::store::{DeviceSignIn, DeviceStore, StoreError};
use authkit_domain::tenant::TenantId;
use authkit_domain::token::FamilyId;
use authkit_domain::user::UserId;

pub(crate) fn partition(tenant: &TenantId, user: &UserId) -> String {
    format!("{tenant}#user#{user}")
}

pub(crate) fn device_key(tenant: &TenantId, user: &UserId, id: &DeviceId) -> Item {
    key(partition(tenant, user), &format!("device#{id}"))
}

fn from_item(item: &Item) -> Result<Device, StoreError> {
    let f = Fields(item);
    Ok(Device {
        id: f.parsed("device_id", DeviceId::parse)?,
        tenant: f.parsed("tenant", TenantId::parse)?,
        user_id: f.parsed("user_id", UserId::parse)?,
        secret_hash: f.parsed("secret_hash", SecretHash::from_hex)?,
        name: f.opt_str("name")?.map(str::to_owned),
        fingerprint: f.json("fingerprint")?,
        trust: match f.str("trust")? {
            "trusted" => TrustLevel::Trusted,
            "recognised" => TrustLevel::Recognised,
            _ => return Err(corrupt("trust")),
        },
        created_at: f.time("created_at")?,
        last_seen: f.time("last_seen")?,
        revoked_at: f.opt_time("revoked_at")?,
    })
}

pub(crate) fn device_item(device: &Device) -> Result<Item, StoreError> {
    let mut item = device_key(&device.tenant, &device.user_id, &device.id);
    item.extend([
        ("device_id".to_owned(), s(device.id.as_str())),
        ("tenant".to_owned(), s(device.tenant.as_str())),
        ("user_id".to_owned(), s(device.user_id.as_str())),
        ("secret_hash".to_owned(), s(device.secret_hash.to_hex())),
        ("fingerprint".to_owned(), s(to_json(&device.fingerprint)?)),
        (
            "trust".to_owned(),
            s(if device.trust == TrustLevel::Trusted {
                "trusted"
            } else {
                "recognised"
            }),
        ),
        ("created_at".to_owned(), n(device.created_at.0)),
        ("last_seen".to_owned(), n(device.last_seen.0)),
    ]);
    if let Some(name) = &device.name {
        item.insert("name".to_owned(), s(name.as_str()));
    }
    Ok(item)
}

/// The link between a device and a session it signed in, expiring with the session.
pub(crate) fn session_link(sign_in: &DeviceSignIn) -> Item {
    let mut link = key(
        partition(&sign_in.tenant, &sign_in.user),
        &session_sort_key(&sign_in.device, Some(&sign_in.family)),
    );
    link.extend([
        ("family_id".to_owned(), s(sign_in.family.as_str())),
        ("ttl".to_owned(), n(sign_in.session_expires_at.0)),
    ]);
    link
}

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn get(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        let item = self
            .consistent_item(&self.tables.devices, device_key(tenant, user, id))
            .await?;
        item.as_ref().map(from_item).transpose()
    }

    async fn list(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Device>, StoreError> {
        let mut devices = self
            .user_partition(tenant, user, Some("device#"))
            .await?
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        devices.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(devices)
    }

    async fn sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
        now: Timestamp,
    ) -> Result<Vec<FamilyId>, StoreError> {
        self.user_partition(tenant, user, Some(&session_sort_key(id, None)))
            .await?
            .iter()
            .filter(|item| !Fields(item).expired(now))
            .map(|item| Fields(item).parsed("family_id", FamilyId::parse))
            .collect()
    }
}

impl DynamoStore {
    /// Every item of a user's partition of the devices table whose sort key starts with
    /// `prefix` (devices, their session links, the user's session links; None: all), all
    /// pages.
    pub(crate) async fn user_partition(
        &self,
        tenant: &TenantId,
        user: &UserId,
        prefix: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        self.partition_items(&self.tables.devices, partition(tenant, user), prefix)
            .await
    }
}

/// `session#<device id>#<family id>`, or without the family the prefix of all a device's.
fn session_sort_key(device: &DeviceId, family: Option<&FamilyId>) -> String {
    match family {
        Some(family) => format!("session#{device}#{family}"),
        None => format!("session#{device}#"),
    }
}
