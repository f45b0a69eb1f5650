//! The wire format of the tenant and operator APIs, Stripe-like: every object has `id`,
//! `object` and `created_at`; lists are `{"object": "list", "data": […], "has_more"}`;
//! a key's secret appears only in the answer that created it. Times are Unix seconds.

use authkit_domain::registry::Page;
use authkit_domain::service::{CreatedTenant, IssuedKey, RotatedKey};
use authkit_domain::tenant::{ApiKeyEntry, KeyKind, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::dto::ChannelName;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantObject {
    /// The tenant's id (the tokens' `aud`).
    pub id: String,
    /// Always `tenant`.
    pub object: &'static str,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    /// `active`, `suspended` (everything refused with `tenant_suspended`), or `deleted`
    /// (only in the answer that deleted it).
    pub status: &'static str,
    pub name: String,
    pub allowed_redirect_uris: Vec<String>,
    /// Browser origins allowed to use the publishable key. `null` for tenants created
    /// before tenants had lists: they allow the deployment's `AUTHKIT_CORS_ALLOWED_ORIGINS`
    /// until a list is set.
    pub allowed_origins: Option<Vec<String>>,
    /// CIDRs secret-key calls may come from; empty: anywhere.
    pub ip_allowlist: Vec<String>,
    pub enabled_channels: Vec<ChannelName>,
    #[schema(value_type = PolicyDoc)]
    pub policy: Value,
    /// Bumped by every change; the `ETag` of the tenant's settings.
    pub revision: u64,
    /// A deleted tenant's records are purged then.
    pub purge_at: Option<i64>,
    /// Made by self-service sign-up: its enabled channels and rate limits are changed by
    /// the operator only (403 `operator_review_required` from `PATCH /v1/tenant`).
    pub self_service: bool,
    /// Only in the answer that created the tenant: its first keys, with their secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<ApiKeyObject>>,
}

impl From<&Tenant> for TenantObject {
    fn from(tenant: &Tenant) -> Self {
        TenantObject {
            id: tenant.id.to_string(),
            object: "tenant",
            created_at: tenant.created_at.0,
            updated_at: tenant.updated_at.map(|t| t.0),
            status: tenant.status.as_str(),
            name: tenant.name.clone(),
            allowed_redirect_uris: tenant.allowed_redirect_uris.clone(),
            allowed_origins: tenant
                .allowed_origins
                .as_ref()
                .map(|origins| origins.iter().map(ToString::to_string).collect()),
            ip_allowlist: tenant
                .ip_allowlist
                .iter()
                .map(ToString::to_string)
                .collect(),
            enabled_channels: tenant.enabled_channels.iter().map(|&c| c.into()).collect(),
            policy: serde_json::to_value(&tenant.policy).unwrap_or_default(),
            revision: tenant.revision,
            purge_at: tenant.purge_at.map(|t| t.0),
            self_service: tenant.self_service,
            api_keys: None,
        }
    }
}

impl From<CreatedTenant> for TenantObject {
    fn from(created: CreatedTenant) -> Self {
        let secrets = [
            created.publishable_key.reveal(),
            created.secret_key.reveal(),
        ];
        let keys = created
            .keys
            .iter()
            .zip(secrets)
            .map(|(entry, secret)| ApiKeyObject {
                secret: Some(secret),
                ..ApiKeyObject::from(entry)
            })
            .collect();
        TenantObject {
            api_keys: Some(keys),
            ..TenantObject::from(&created.tenant)
        }
    }
}

/// A tenant's policy (docs/configuration.md has every default and bound).
#[allow(dead_code)] // documents the wire format; the domain's `TenantPolicy` is what is read and written
#[derive(ToSchema)]
pub struct PolicyDoc {
    /// Digits in a code.
    #[schema(minimum = 6, maximum = 10)]
    code_length: Option<u8>,
    #[schema(minimum = 60, maximum = 900)]
    challenge_ttl_secs: Option<u32>,
    #[schema(minimum = 1, maximum = 10)]
    max_attempts: Option<u32>,
    #[schema(minimum = 0, maximum = 600)]
    resend_cooldown_secs: Option<u32>,
    #[schema(minimum = 0, maximum = 10)]
    max_resends: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    identifier_failure_cap: Option<u32>,
    /// ISO 3166 region for phone numbers typed without `+country`.
    default_region: Option<String>,
    #[schema(minimum = 60, maximum = 3600)]
    access_token_ttl_secs: Option<u32>,
    #[schema(minimum = 3600, maximum = 31536000)]
    refresh_token_ttl_secs: Option<u32>,
    #[schema(minimum = 86400, maximum = 31536000)]
    device_idle_ttl_secs: Option<u32>,
    #[schema(minimum = 86400, maximum = 94608000)]
    device_max_age_secs: Option<u32>,
    rate_limits: Option<RateLimitsDoc>,
}

/// Limits per action: each a list replaced whole.
#[allow(dead_code)] // documents the wire format
#[derive(ToSchema)]
pub struct RateLimitsDoc {
    start: Option<Vec<LimitDoc>>,
    verify: Option<Vec<LimitDoc>>,
    sign_up: Option<Vec<LimitDoc>>,
}

#[allow(dead_code)] // documents the wire format
#[derive(ToSchema)]
pub struct LimitDoc {
    /// `ip`, `identifier`, `tenant`, `phone_country` or `phone_prefix`.
    scope: String,
    max: u32,
    #[schema(minimum = 1, maximum = 2678400)]
    window_secs: u32,
}

/// A change to a tenant's settings, as a JSON Merge Patch (RFC 7386): members sent
/// replace the current ones, `policy` merges field by field, lists are replaced whole, and
/// `null` puts a policy field back to its default. Every change is checked whole; a wrong
/// value is refused with `invalid_setting` naming it (`errors[0].pointer`).
#[allow(dead_code)] // documents the body, which is applied as a merge patch by the domain
#[derive(ToSchema)]
pub struct TenantSettingsPatch {
    /// 1-100 characters, shown in messages.
    name: Option<String>,
    /// Absolute URLs magic links may return to (exact match), at most 50.
    allowed_redirect_uris: Option<Vec<String>>,
    /// Browser origins (`https://app.example.com`) allowed to use the publishable key.
    allowed_origins: Option<Vec<String>>,
    /// CIDRs (`203.0.113.0/24`) secret-key calls may come from.
    ip_allowlist: Option<Vec<String>>,
    /// At least one of `email`, `sms`, `whatsapp`.
    enabled_channels: Option<Vec<ChannelName>>,
    policy: Option<PolicyDoc>,
}

/// A new tenant: its id and name, and any settings (the rest start as every new tenant's:
/// no browser origin allowed, any server address, every channel, the default policy).
#[allow(dead_code)] // documents the body, read as settings by the domain
#[derive(ToSchema)]
pub struct CreateTenantRequest {
    /// 3-40 characters of `a-z`, `0-9` and `-`: in tokens (`aud`) and magic links. An id
    /// is never given out twice, not even after its tenant is deleted.
    id: String,
    name: String,
    allowed_redirect_uris: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    ip_allowlist: Option<Vec<String>>,
    enabled_channels: Option<Vec<ChannelName>>,
    policy: Option<PolicyDoc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// Always `list`.
    pub object: &'static str,
    /// Tenants that are not deleted, by id.
    pub data: Vec<TenantObject>,
    /// More follow: ask again with `starting_after` = the last id.
    pub has_more: bool,
}

impl From<Page<Tenant>> for TenantList {
    fn from(page: Page<Tenant>) -> Self {
        TenantList {
            object: "list",
            data: page.items.iter().map(TenantObject::from).collect(),
            has_more: page.has_more,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKindName {
    /// `ak_pub_…`: browsers and apps, sign-in routes only.
    Publishable,
    /// `ak_sec_…`: servers, every route; never from a browser.
    Secret,
}

impl From<KeyKindName> for KeyKind {
    fn from(name: KeyKindName) -> KeyKind {
        match name {
            KeyKindName::Publishable => KeyKind::Publishable,
            KeyKindName::Secret => KeyKind::Secret,
        }
    }
}

impl From<KeyKind> for KeyKindName {
    fn from(kind: KeyKind) -> KeyKindName {
        match kind {
            KeyKind::Publishable => KeyKindName::Publishable,
            KeyKind::Secret => KeyKindName::Secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyObject {
    pub id: String,
    /// Always `api_key`.
    pub object: &'static str,
    pub created_at: i64,
    pub kind: KeyKindName,
    /// The kind's prefix and the first six characters of the key: how to recognise it.
    pub prefix: String,
    /// A rotated key stops working then.
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Updated at most once a minute.
    pub last_used_at: Option<i64>,
    /// Only in the answer that created the key. It is stored hashed and cannot be shown
    /// again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Only in a rotation's answer: the key this one replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<ReplacedKey>,
    /// Only in a revocation's answer: other processes that read the key before may
    /// accept it for at most this long (`AUTHKIT_TENANT_CACHE_SECS`, 30 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_takes_effect_within_secs: Option<u32>,
}

impl From<&ApiKeyEntry> for ApiKeyObject {
    fn from(entry: &ApiKeyEntry) -> Self {
        ApiKeyObject {
            id: entry.id.to_string(),
            object: "api_key",
            created_at: entry.created_at.0,
            kind: entry.kind.into(),
            prefix: entry.prefix.clone(),
            expires_at: entry.expires_at.map(|t| t.0),
            revoked_at: entry.revoked_at.map(|t| t.0),
            last_used_at: entry.last_used_at.map(|t| t.0),
            secret: None,
            replaces: None,
            revocation_takes_effect_within_secs: None,
        }
    }
}

impl From<IssuedKey> for ApiKeyObject {
    fn from(issued: IssuedKey) -> Self {
        ApiKeyObject {
            secret: Some(issued.key.reveal()),
            ..ApiKeyObject::from(&issued.entry)
        }
    }
}

impl From<RotatedKey> for ApiKeyObject {
    fn from(rotated: RotatedKey) -> Self {
        ApiKeyObject {
            replaces: Some(ReplacedKey {
                id: rotated.replaced.id.to_string(),
                expires_at: rotated.replaced.expires_at.map(|t| t.0),
            }),
            ..ApiKeyObject::from(rotated.issued)
        }
    }
}

impl ApiKeyObject {
    /// The answer to a revocation, saying when it reaches every process.
    pub fn revoked(entry: &ApiKeyEntry, within_secs: u32) -> Self {
        ApiKeyObject {
            revocation_takes_effect_within_secs: Some(within_secs),
            ..ApiKeyObject::from(entry)
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplacedKey {
    pub id: String,
    /// When the replaced key stops working (the overlap's end).
    pub expires_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Always `list`.
    pub object: &'static str,
    /// Newest first, revoked and expired keys included.
    pub data: Vec<ApiKeyObject>,
    pub has_more: bool,
}

impl From<Page<ApiKeyEntry>> for ApiKeyList {
    fn from(page: Page<ApiKeyEntry>) -> Self {
        ApiKeyList {
            object: "list",
            data: page.items.iter().map(ApiKeyObject::from).collect(),
            has_more: page.has_more,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    pub kind: KeyKindName,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiKeyRequest {
    /// How long the replaced key keeps working: 0-604800 (7 days), default 86400.
    #[schema(minimum = 0, maximum = 604800)]
    pub expires_in_secs: Option<u32>,
}

/// Cursor pagination.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1-100, default 10.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The id of the last object of the previous page.
    pub starting_after: Option<String>,
}
