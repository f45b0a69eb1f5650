//! Tenants (the apps sharing one deployment), their policies and their API keys.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::{Randomness, Timestamp};
use crate::identifier::{Channel, Region};
use crate::rate_limit::RateLimitPolicy;
use crate::secret::{prefixed_id, CodeLength, OpaqueSecret, Pepper, SecretHash};

pub mod settings;

pub use settings::{
    all_channels, DeploymentOrigins, InvalidSetting, IpNetwork, SettingsPatch, TenantSettings,
    WebOrigin,
};

/// A tenant's id: 3–40 characters of `a-z`, `0-9` and `-`, chosen by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> Result<TenantId, InvalidTenantId> {
        let ok = (3..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !RESERVED_TENANT_IDS.contains(&raw);
        if ok {
            Ok(TenantId(raw.to_owned()))
        } else {
            Err(InvalidTenantId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        TenantId::parse(&raw)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

/// Ids a tenant cannot take: the directory table's own partition-key prefixes
/// (`tenant#…`, `apikey#…`), which IAM denies the sign-in functions writing to; a tenant
/// named after one would have its users' keys fall under that denial.
const RESERVED_TENANT_IDS: [&str; 2] = ["tenant", "apikey"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tenant id is 3-40 characters of a-z, 0-9 and '-', not starting or ending with '-', and not `tenant` or `apikey`")]
pub struct InvalidTenantId;

/// Carriers hand a cancelled number to a new subscriber after some months of silence
/// (commonly 45-90 days): a number silent for half a year is treated as possibly someone
/// else's.
pub const DEFAULT_PHONE_REASSIGNMENT_AFTER_DAYS: u32 = 180;

/// Everything a tenant can tune. Defaults are the documented ones (`docs/configuration.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantPolicy {
    pub code_length: CodeLength,
    /// 60–900 seconds.
    pub challenge_ttl_secs: u32,
    /// Wrong answers that exhaust one challenge.
    pub max_attempts: u32,
    pub resend_cooldown_secs: u32,
    pub max_resends: u32,
    /// Consecutive wrong answers per identifier, across challenges, before new challenges
    /// are refused (NIST SP 800-63B §5.2.2 allows at most 100).
    pub identifier_failure_cap: u32,
    pub default_region: Option<Region>,
    pub access_token_ttl_secs: u32,
    pub refresh_token_ttl_secs: u32,
    /// A trusted device's credential stops working this long after its last use.
    pub device_idle_ttl_secs: u32,
    /// … and this long after it was bound, however often it is used.
    pub device_max_age_secs: u32,
    pub rate_limits: RateLimitPolicy,
    /// A phone number that has not signed in for this many days starts a new user when it
    /// signs in again (carriers give silent numbers to new subscribers); `null`: never.
    pub phone_reassignment_after_days: Option<u32>,
    /// Days the audit log keeps this tenant's entries (DynamoDB TTL, set as each entry is
    /// written: a change applies to entries recorded after it).
    pub audit_retention_days: u32,
    /// Whether a magic link must be bound to the app that started it (decision 99).
    pub magic_link_pkce: MagicLinkPkce,
}

/// Whether starting a magic link needs a PKCE `code_challenge`. `optional` (the default,
/// and what stored tenants without the field read as) keeps apps without PKCE working;
/// `required` is the recommended setting: an unbound link's result is a bearer credential
/// an attacker can confirm for their own address and plant in a victim's browser (login
/// CSRF), and only PKCE ties a result to the app session that started the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MagicLinkPkce {
    #[default]
    Optional,
    Required,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        TenantPolicy {
            code_length: CodeLength::DEFAULT,
            challenge_ttl_secs: 600,
            max_attempts: 5,
            resend_cooldown_secs: 30,
            max_resends: 3,
            identifier_failure_cap: 100,
            default_region: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            device_idle_ttl_secs: 90 * 24 * 3600,
            device_max_age_secs: 365 * 24 * 3600,
            rate_limits: RateLimitPolicy::default(),
            phone_reassignment_after_days: Some(DEFAULT_PHONE_REASSIGNMENT_AFTER_DAYS),
            audit_retention_days: crate::audit::DEFAULT_AUDIT_RETENTION_DAYS,
            magic_link_pkce: MagicLinkPkce::Optional,
        }
    }
}

impl TenantPolicy {
    /// Checks the bounds the issue tracker and NIST set; a policy outside them is refused
    /// when the tenant is saved, not discovered at sign-in.
    pub fn validate(&self) -> Result<(), InvalidPolicy> {
        let check = |ok: bool, field: &'static str, bounds: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(InvalidPolicy { field, bounds })
            }
        };
        check(
            (60..=900).contains(&self.challenge_ttl_secs),
            "challenge_ttl_secs",
            "60-900",
        )?;
        check(
            (1..=10).contains(&self.max_attempts),
            "max_attempts",
            "1-10",
        )?;
        check(
            self.resend_cooldown_secs <= 600,
            "resend_cooldown_secs",
            "0-600",
        )?;
        check(self.max_resends <= 10, "max_resends", "0-10")?;
        check(
            (1..=100).contains(&self.identifier_failure_cap),
            "identifier_failure_cap",
            "1-100",
        )?;
        // Revocation reaches an access token only where it is checked (introspection,
        // AuthKit's own routes); a verifier that checks signatures alone honours it for up
        // to this long, so it stays short (decision 37).
        check(
            (60..=3_600).contains(&self.access_token_ttl_secs),
            "access_token_ttl_secs",
            "60-3600",
        )?;
        check(
            (3_600..=365 * 86_400).contains(&self.refresh_token_ttl_secs),
            "refresh_token_ttl_secs",
            "3600-31536000",
        )?;
        check(
            (86_400..=365 * 86_400).contains(&self.device_idle_ttl_secs),
            "device_idle_ttl_secs",
            "86400-31536000",
        )?;
        check(
            (self.device_idle_ttl_secs..=3 * 365 * 86_400).contains(&self.device_max_age_secs),
            "device_max_age_secs",
            "device_idle_ttl_secs-94608000",
        )?;
        let limits = &self.rate_limits;
        check(
            [
                &limits.start,
                &limits.verify,
                &limits.sign_up,
                &limits.device,
            ]
            .iter()
            .all(|action| {
                action.len() <= 10
                    && action
                        .iter()
                        .all(|limit| (1..=31 * 86_400).contains(&limit.window_secs))
            }),
            "rate_limits",
            "at most 10 limits per action, windows of 1-2678400 seconds",
        )?;
        check(
            self.phone_reassignment_after_days
                .is_none_or(|days| (30..=3_650).contains(&days)),
            "phone_reassignment_after_days",
            "30-3650, or null",
        )?;
        check(
            (1..=crate::audit::MAX_AUDIT_RETENTION_DAYS).contains(&self.audit_retention_days),
            "audit_retention_days",
            "1-365",
        )?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant policy field out of range: {field} ({bounds})")]
pub struct InvalidPolicy {
    pub field: &'static str,
    pub bounds: &'static str,
}

/// Whether a tenant may be used. Stored tenants without a status are active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    #[default]
    Active,
    /// Its sign-ins, refreshes and tenant-API calls are refused (`tenant_suspended`) until
    /// an operator reactivates it; nothing is deleted.
    Suspended,
    /// Gone for everyone; its records are purged at `purge_at` (DynamoDB TTL), and its id
    /// is never given out again.
    Deleted,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Deleted => "deleted",
        }
    }
}

/// A tenant as stored. Fields added after the first release default when absent, so
/// tenants stored before them read as they always behaved (decision 105).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    /// Shown to people in messages ("Your Acme sign-in code is …").
    pub name: String,
    pub policy: TenantPolicy,
    /// Magic links may only send people back to one of these (exact match).
    pub allowed_redirect_uris: Vec<String>,
    pub created_at: Timestamp,
    /// Browser origins that may use the publishable key; `None` (tenants created before
    /// lists existed) means the deployment-wide list.
    #[serde(default)]
    pub allowed_origins: Option<Vec<WebOrigin>>,
    /// Where secret-key calls may come from; empty: anywhere.
    #[serde(default)]
    pub ip_allowlist: Vec<IpNetwork>,
    #[serde(default = "all_channels")]
    pub enabled_channels: Vec<Channel>,
    #[serde(default)]
    pub status: TenantStatus,
    /// Bumped by every change: the `ETag` of its settings, and the condition of the next
    /// write (optimistic concurrency).
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// When a deleted tenant's records go (its TTL).
    #[serde(default)]
    pub purge_at: Option<Timestamp>,
    /// Made by self-service sign-up: its channels and rate limits are the operator's to
    /// change, not its own (decision 164).
    #[serde(default)]
    pub self_service: bool,
}

impl Tenant {
    /// A new, active tenant with these settings.
    pub fn new(id: TenantId, settings: TenantSettings, created_at: Timestamp) -> Tenant {
        let mut tenant = Tenant {
            id,
            name: String::new(),
            policy: TenantPolicy::default(),
            allowed_redirect_uris: Vec::new(),
            created_at,
            allowed_origins: None,
            ip_allowlist: Vec::new(),
            enabled_channels: all_channels(),
            status: TenantStatus::Active,
            revision: 0,
            updated_at: None,
            purge_at: None,
            self_service: false,
        };
        tenant.set_settings(settings);
        tenant
    }

    pub fn settings(&self) -> TenantSettings {
        TenantSettings {
            name: self.name.clone(),
            allowed_redirect_uris: self.allowed_redirect_uris.clone(),
            allowed_origins: self.allowed_origins.clone(),
            ip_allowlist: self.ip_allowlist.clone(),
            enabled_channels: self.enabled_channels.clone(),
            policy: self.policy.clone(),
        }
    }

    pub fn set_settings(&mut self, settings: TenantSettings) {
        self.name = settings.name;
        self.allowed_redirect_uris = settings.allowed_redirect_uris;
        self.allowed_origins = settings.allowed_origins;
        self.ip_allowlist = settings.ip_allowlist;
        self.enabled_channels = settings.enabled_channels;
        self.policy = settings.policy;
    }

    /// Where `next` changes what only the operator may change for a self-service tenant
    /// (decision 164): a channel it did not have, or its rate limits. None for any other
    /// tenant, or any other change.
    pub fn beyond_self_service(&self, next: &TenantSettings) -> Option<&'static str> {
        if !self.self_service {
            return None;
        }
        if next
            .enabled_channels
            .iter()
            .any(|channel| !self.enabled_channels.contains(channel))
        {
            return Some("/enabled_channels");
        }
        (next.policy.rate_limits != self.policy.rate_limits).then_some("/policy/rate_limits")
    }

    /// The tenant as the next write stores it: one revision on, stamped `now`.
    pub fn next_revision(&self, now: Timestamp) -> Tenant {
        Tenant {
            revision: self.revision + 1,
            updated_at: Some(now),
            ..self.clone()
        }
    }

    /// Whether sign-ins may use `channel`.
    pub fn enables(&self, channel: Channel) -> bool {
        self.enabled_channels.contains(&channel)
    }
}

/// What a key may do: a publishable key is safe in a browser and may only start, resend
/// and verify sign-ins; a secret key may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Publishable,
    Secret,
}

impl KeyKind {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Publishable => "ak_pub_",
            KeyKind::Secret => "ak_sec_",
        }
    }
}

/// An API key as presented by a client: `ak_pub_…` or `ak_sec_…` followed by 256 random
/// bits. Only its hash is stored.
#[derive(Clone)]
pub struct ApiKey {
    kind: KeyKind,
    secret: OpaqueSecret,
}

impl ApiKey {
    pub fn generate(kind: KeyKind, random: &dyn Randomness) -> ApiKey {
        ApiKey {
            kind,
            secret: OpaqueSecret::generate(random),
        }
    }

    pub fn parse(raw: &str) -> Result<ApiKey, MalformedApiKey> {
        [KeyKind::Publishable, KeyKind::Secret]
            .into_iter()
            .find_map(|kind| {
                let body = raw.strip_prefix(kind.prefix())?;
                OpaqueSecret::parse(body)
                    .ok()
                    .map(|secret| ApiKey { kind, secret })
            })
            .ok_or(MalformedApiKey)
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The key in clear, for the one moment it is shown to the operator.
    pub fn reveal(&self) -> String {
        format!("{}{}", self.kind.prefix(), self.secret.expose())
    }

    /// The lookup hash. Keys are high-entropy, so one keyed hash suffices (no slow KDF).
    pub fn hash(&self, pepper: &Pepper) -> SecretHash {
        pepper.hash("api-key", self.reveal().as_bytes())
    }

    /// A key derived from a stored random seed with the pepper, so that a retried request
    /// (the same idempotency key) shows the key it created again without the key ever
    /// being stored (decision 106). `index` tells apart the keys one request creates.
    pub fn derive(kind: KeyKind, pepper: &Pepper, seed: &[u8], index: u8) -> ApiKey {
        let mut input = seed.to_vec();
        input.extend_from_slice(kind.prefix().as_bytes());
        input.push(index);
        ApiKey {
            kind,
            secret: pepper.derive_secret("api-key-derivation", &input),
        }
    }

    /// What identifies the key to people once its secret is no longer shown: its kind
    /// and the first six characters of its secret (36 of its 256 bits).
    pub fn display_prefix(&self) -> String {
        let body: String = self.secret.expose().chars().take(6).collect();
        format!("{}{body}", self.kind.prefix())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({:?}, ***)", self.kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the API key is malformed")]
pub struct MalformedApiKey;

prefixed_id!(
    /// An API key's id, `key_` and 32 hex digits of which the first 8 are its creation
    /// time: listings come in creation order without an index.
    ApiKeyId,
    "key_"
);

impl ApiKeyId {
    /// An id whose order is the creation order (to the second).
    pub fn generate_at(at: Timestamp, random: &dyn Randomness) -> ApiKeyId {
        let mut tail = [0u8; 12];
        random.fill(&mut tail);
        let seconds = u32::try_from(at.0.max(0)).unwrap_or(u32::MAX);
        ApiKeyId(format!("key_{seconds:08x}{}", hex::encode(tail)))
    }
}

/// A stored API key as a request presents it (found by its hash): never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub hash: SecretHash,
    pub tenant: TenantId,
    pub kind: KeyKind,
    pub created_at: Timestamp,
    pub revoked: bool,
    /// Keys created before keys had ids have none (and cannot be listed).
    #[serde(default)]
    pub id: Option<ApiKeyId>,
    /// A rotated key keeps working until then (the overlap).
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl ApiKeyRecord {
    /// Whether the key may still be used at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

/// An API key as its tenant sees it in a listing (and as the store keeps it beside the
/// tenant): the lookup record plus what people need to recognise and manage it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyEntry {
    pub id: ApiKeyId,
    pub hash: SecretHash,
    pub tenant: TenantId,
    pub kind: KeyKind,
    /// `ak_pub_` or `ak_sec_` and the first six characters of the secret.
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Written at most once a minute per key.
    pub last_used_at: Option<Timestamp>,
}

impl ApiKeyEntry {
    pub fn new(
        id: ApiKeyId,
        key: &ApiKey,
        tenant: TenantId,
        pepper: &Pepper,
        at: Timestamp,
    ) -> Self {
        ApiKeyEntry {
            id,
            hash: key.hash(pepper),
            tenant,
            kind: key.kind(),
            prefix: key.display_prefix(),
            created_at: at,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    /// The record a request's key is looked up by.
    pub fn record(&self) -> ApiKeyRecord {
        ApiKeyRecord {
            hash: self.hash,
            tenant: self.tenant.clone(),
            kind: self.kind,
            created_at: self.created_at,
            revoked: self.revoked_at.is_some(),
            id: Some(self.id.clone()),
            expires_at: self.expires_at,
        }
    }

    pub fn is_live(&self, now: Timestamp) -> bool {
        self.record().is_live(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandomness;

    #[test]
    fn tenant_ids_are_restricted() {
        assert!(TenantId::parse("acme-shop").is_ok());
        for bad in [
            "ab",
            "Acme",
            "-acme",
            "acme-",
            "ac me",
            &"a".repeat(41),
            "acme#1",
            "tenant",
            "apikey",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_keys_round_trip_and_keep_their_kind() {
        let key = ApiKey::generate(KeyKind::Publishable, &OsRandomness);
        let parsed = ApiKey::parse(&key.reveal()).unwrap();
        assert_eq!(parsed.kind(), KeyKind::Publishable);
        let pepper = Pepper::generate(&OsRandomness);
        assert!(parsed.hash(&pepper).matches(&key.hash(&pepper)));
        assert!(ApiKey::parse("ak_xyz_abc").is_err());
        assert!(ApiKey::parse(&key.reveal().replace("ak_pub_", "ak_sec_"))
            .is_ok_and(|k| !k.hash(&pepper).matches(&key.hash(&pepper))));
        assert_eq!(format!("{key:?}"), "ApiKey(Publishable, ***)");
    }

    #[test]
    fn default_policy_is_valid_and_bounds_are_enforced() {
        assert_eq!(TenantPolicy::default().validate(), Ok(()));
        let too_long = TenantPolicy {
            challenge_ttl_secs: 901,
            ..TenantPolicy::default()
        };
        assert!(too_long.validate().is_err());
        let over_nist = TenantPolicy {
            identifier_failure_cap: 101,
            ..TenantPolicy::default()
        };
        assert!(over_nist.validate().is_err());
        let long_lived_access = TenantPolicy {
            access_token_ttl_secs: 3_601,
            ..TenantPolicy::default()
        };
        assert!(long_lived_access.validate().is_err());
        let device_outliving_its_maximum = TenantPolicy {
            device_idle_ttl_secs: 200 * 86_400,
            device_max_age_secs: 100 * 86_400,
            ..TenantPolicy::default()
        };
        assert!(device_outliving_its_maximum.validate().is_err());
    }
}
