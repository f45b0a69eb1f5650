//! The wire format of the tenant's server API (secret key): users, their sessions and
//! devices, exports and the audit log. Each object names its kind in `object`; lists are
//! `{"object": "list", "data": [...], "has_more": ...}`. Times are Unix seconds.

use authkit_domain::audit::{AuditFilter, AuditPage, AuditPosition};
use authkit_domain::clock::Timestamp;
use authkit_domain::event::{Event, EventKind, Outcome};
use authkit_domain::service::{UserExport, MAX_AUDIT_PAGE};
use authkit_domain::token::RefreshFamily;
use authkit_domain::user::{User, UserId};
use authkit_domain::AuthError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::DeviceSummary;
use crate::members_dto::MemberObject;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FindUserParams {
    /// An email address or an E.164 phone number, matched as sign-in matches it
    /// (an address in any case finds the same user).
    pub identifier: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserObject {
    pub id: String,
    /// `user`
    pub object: &'static str,
    /// The email address or phone number the user signed up with, or the one that
    /// remains of two.
    pub identifier: String,
    /// Their identifier of the other kind, when they hold both (decision 122).
    pub second_identifier: Option<String>,
    pub created_at: i64,
    /// Set while the user is disabled: no sign-in opens a session for them.
    pub disabled_at: Option<i64>,
    /// Their last sign-in, by either identifier, when recorded.
    pub last_sign_in_at: Option<i64>,
    /// Set when their phone number, silent for longer than the tenant's
    /// `phone_reassignment_after_days`, signed in again and was given to a new user.
    pub identifier_reassigned_at: Option<i64>,
}

impl From<User> for UserObject {
    fn from(user: User) -> Self {
        UserObject {
            id: user.id.to_string(),
            object: "user",
            identifier: user.identifier.as_str().to_owned(),
            second_identifier: user.second_identifier.map(|i| i.as_str().to_owned()),
            created_at: user.created_at.0,
            disabled_at: user.disabled_at.map(|at| at.0),
            last_sign_in_at: user.last_sign_in_at.map(|at| at.0),
            identifier_reassigned_at: user.identifier_reassigned_at.map(|at| at.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionObject {
    pub id: String,
    /// `session`
    pub object: &'static str,
    /// The trusted device that opened it, if one did.
    pub device_id: Option<String>,
    /// How the user proved who they are (`otp`, `email`, `sms`, `device`, ...).
    pub amr: Vec<String>,
    pub created_at: i64,
    /// When its refresh token was last rotated (`created_at` until then).
    pub refreshed_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<RefreshFamily> for SessionObject {
    fn from(family: RefreshFamily) -> Self {
        SessionObject {
            id: family.id.to_string(),
            object: "session",
            device_id: family.device_id.map(|id| id.to_string()),
            amr: family.amr,
            created_at: family.created_at.0,
            refreshed_at: family.rotated_at.0,
            expires_at: family.expires_at.0,
            revoked_at: family.revoked_at.map(|at| at.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// `list`
    pub object: &'static str,
    pub data: Vec<SessionObject>,
    pub has_more: bool,
}

impl SessionList {
    pub fn of(sessions: Vec<RefreshFamily>) -> SessionList {
        SessionList {
            object: "list",
            data: sessions.into_iter().map(Into::into).collect(),
            has_more: false,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeviceList {
    /// `list`
    pub object: &'static str,
    pub data: Vec<DeviceSummary>,
    pub has_more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    /// `session_revocation`
    pub object: &'static str,
    /// How many live sessions were revoked.
    pub revoked: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventObject {
    pub id: String,
    /// `audit_event`
    pub object: &'static str,
    /// What happened (`challenge_started`, `session_opened`, `user_erased`, ...).
    pub kind: &'static str,
    /// `success`, `failure` or `refused`.
    pub outcome: &'static str,
    pub at: i64,
    pub user_id: Option<String>,
    pub challenge_id: Option<String>,
    pub device_id: Option<String>,
    pub ip: Option<String>,
    /// Always masked (`j***@example.com`, `+44*******123`).
    pub identifier: Option<String>,
    pub channel: Option<String>,
    pub detail: Option<String>,
    /// How many requests a `requests_refused` entry counts.
    pub count: Option<u64>,
}

impl From<Event> for AuditEventObject {
    fn from(event: Event) -> Self {
        AuditEventObject {
            id: event.id,
            object: "audit_event",
            kind: event.kind.as_str(),
            outcome: match event.outcome {
                Outcome::Success => "success",
                Outcome::Failure => "failure",
                Outcome::Refused => "refused",
            },
            at: event.at.0,
            user_id: event.user_id.map(|id| id.to_string()),
            challenge_id: event.challenge_id.map(|id| id.to_string()),
            device_id: event.device_id.map(|id| id.to_string()),
            ip: event.ip,
            identifier: event.identifier,
            channel: event.channel.map(|channel| channel.to_string()),
            detail: event.detail,
            count: event.count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    /// `list`
    pub object: &'static str,
    pub data: Vec<AuditEventObject>,
    pub has_more: bool,
    /// Pass as `starting_after` for the next page (older entries), while `has_more`.
    pub next_cursor: Option<String>,
}

impl From<AuditPage> for AuditEventList {
    fn from(page: AuditPage) -> Self {
        let next_cursor = page
            .entries
            .last()
            .filter(|_| page.has_more)
            .map(|(position, _)| position.encode());
        AuditEventList {
            object: "list",
            data: page.entries.into_iter().map(|(_, e)| e.into()).collect(),
            has_more: page.has_more,
            next_cursor,
        }
    }
}

/// Filters of the audit log. Without `from`, the last 7 days; the log keeps 90.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only entries of this kind (`session_opened`, `user_erased`, ...).
    pub kind: Option<String>,
    /// Only entries about this user.
    pub user_id: Option<String>,
    /// From this time (Unix seconds, inclusive); default: 7 days ago.
    pub from: Option<i64>,
    /// Up to this time (Unix seconds, inclusive).
    pub to: Option<i64>,
    /// Entries per page, 1 to 100 (default 50).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub starting_after: Option<String>,
}

/// An export's range and filters: `from` and `to` are required.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditExportParams {
    /// From this time (Unix seconds, inclusive).
    pub from: i64,
    /// Up to this time (Unix seconds, inclusive).
    pub to: i64,
    /// Only entries of this kind.
    pub kind: Option<String>,
    /// Only entries about this user.
    pub user_id: Option<String>,
}

const DEFAULT_AUDIT_PAGE: usize = 50;

fn filters(
    kind: Option<&str>,
    user_id: Option<&str>,
) -> Result<(Option<EventKind>, Option<UserId>), AuthError> {
    let kind = kind
        .map(|raw| EventKind::parse(raw).ok_or(AuthError::InvalidParameter("kind")))
        .transpose()?;
    let user = user_id
        .map(|raw| UserId::parse(raw).map_err(|_| AuthError::InvalidParameter("user_id")))
        .transpose()?;
    Ok((kind, user))
}

impl AuditParams {
    pub fn filter(&self) -> Result<AuditFilter, AuthError> {
        let (kind, user) = filters(self.kind.as_deref(), self.user_id.as_deref())?;
        let starting_after = self
            .starting_after
            .as_deref()
            .map(|raw| {
                AuditPosition::parse(raw).ok_or(AuthError::InvalidParameter("starting_after"))
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
        if limit == 0 || limit > MAX_AUDIT_PAGE {
            return Err(AuthError::InvalidParameter("limit"));
        }
        Ok(AuditFilter {
            from: self.from.map(Timestamp),
            to: self.to.map(Timestamp),
            kind,
            user,
            starting_after,
            limit,
        })
    }
}

impl AuditExportParams {
    pub fn filter(&self) -> Result<AuditFilter, AuthError> {
        let (kind, user) = filters(self.kind.as_deref(), self.user_id.as_deref())?;
        if self.from > self.to {
            return Err(AuthError::InvalidParameter("from"));
        }
        Ok(AuditFilter {
            from: Some(Timestamp(self.from)),
            to: Some(Timestamp(self.to)),
            kind,
            user,
            starting_after: None,
            limit: MAX_AUDIT_PAGE,
        })
    }
}

/// Everything AuthKit holds about one user (`GET /v1/users/{id}/export`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserExportDocument {
    /// `user_export`
    pub object: &'static str,
    pub exported_at: i64,
    pub user: UserObject,
    pub devices: Vec<DeviceSummary>,
    pub sessions: Vec<SessionObject>,
    /// Their audit entries, newest first, as the log keeps them (identifiers masked).
    pub audit_events: Vec<AuditEventObject>,
    /// A console user's roles on tenants; empty for every other tenant's users.
    pub memberships: Vec<MemberObject>,
}

impl UserExportDocument {
    pub fn of(export: UserExport) -> UserExportDocument {
        UserExportDocument {
            object: "user_export",
            exported_at: export.exported_at.0,
            user: export.user.into(),
            devices: export.devices.into_iter().map(Into::into).collect(),
            sessions: export.sessions.into_iter().map(Into::into).collect(),
            audit_events: export.audit_events.into_iter().map(Into::into).collect(),
            memberships: export.memberships.iter().map(Into::into).collect(),
        }
    }
}
