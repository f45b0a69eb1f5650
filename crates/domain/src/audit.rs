//! Audit events: what happened, to which tenant and user, from where, with what outcome.
//! Identifiers appear masked only.

use serde::{Deserialize, Serialize};

use crate::challenge::ChallengeId;
use crate::clock::Timestamp;
use crate::device::DeviceId;
use crate::identifier::Channel;
use crate::tenant::TenantId;
use crate::user::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    ChallengeStarted,
    ChallengeDelivered,
    DeliveryFailed,
    ChallengeResent,
    ChallengeVerified,
    VerificationFailed,
    ChallengeExhausted,
    MagicLinkConfirmed,
    TokensIssued,
    RefreshRotated,
    RefreshReuseDetected,
    SessionRevoked,
    DeviceBound,
    DeviceRevoked,
    DeviceSignIn,
    DeviceSignInRefused,
    RateLimited,
    IdentifierLocked,
    TenantCreated,
    TenantUpdated,
    TenantSuspended,
    TenantReactivated,
    TenantDeleted,
    ApiKeyCreated,
    ApiKeyRevoked,
    ApiKeyRotated,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::ChallengeStarted => "challenge_started",
            AuditKind::ChallengeDelivered => "challenge_delivered",
            AuditKind::DeliveryFailed => "delivery_failed",
            AuditKind::ChallengeResent => "challenge_resent",
            AuditKind::ChallengeVerified => "challenge_verified",
            AuditKind::VerificationFailed => "verification_failed",
            AuditKind::ChallengeExhausted => "challenge_exhausted",
            AuditKind::MagicLinkConfirmed => "magic_link_confirmed",
            AuditKind::TokensIssued => "tokens_issued",
            AuditKind::RefreshRotated => "refresh_rotated",
            AuditKind::RefreshReuseDetected => "refresh_reuse_detected",
            AuditKind::SessionRevoked => "session_revoked",
            AuditKind::DeviceBound => "device_bound",
            AuditKind::DeviceRevoked => "device_revoked",
            AuditKind::DeviceSignIn => "device_sign_in",
            AuditKind::DeviceSignInRefused => "device_sign_in_refused",
            AuditKind::RateLimited => "rate_limited",
            AuditKind::IdentifierLocked => "identifier_locked",
            AuditKind::TenantCreated => "tenant_created",
            AuditKind::TenantUpdated => "tenant_updated",
            AuditKind::TenantSuspended => "tenant_suspended",
            AuditKind::TenantReactivated => "tenant_reactivated",
            AuditKind::TenantDeleted => "tenant_deleted",
            AuditKind::ApiKeyCreated => "api_key_created",
            AuditKind::ApiKeyRevoked => "api_key_revoked",
            AuditKind::ApiKeyRotated => "api_key_rotated",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Refused,
}

/// How long audit events are kept (DynamoDB TTL).
pub const AUDIT_RETENTION_SECS: i64 = 90 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique within the tenant and second; orders events that share a timestamp.
    pub id: String,
    pub tenant: TenantId,
    pub at: Timestamp,
    pub kind: AuditKind,
    pub outcome: Outcome,
    pub user_id: Option<UserId>,
    pub challenge_id: Option<ChallengeId>,
    pub device_id: Option<DeviceId>,
    pub ip: Option<String>,
    /// Masked (`j***@example.com`, `+44*******123`).
    pub identifier: Option<String>,
    pub channel: Option<Channel>,
    /// A short machine-readable reason (`wrong_code`, `scope=ip`), never a secret.
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn purge_at(&self) -> Timestamp {
        self.at.plus_secs(AUDIT_RETENTION_SECS)
    }
}
