//! The tenant's audit log, as its servers read it: filtered, newest first, in pages.

use super::{AuthKit, Caller};
use crate::audit::{
    AuditFilter, AuditPage, AuditQuery, AUDIT_RETENTION_SECS, DEFAULT_AUDIT_WINDOW_SECS,
};
use crate::error::AuthError;

/// The most entries one page holds.
pub const MAX_AUDIT_PAGE: usize = 100;

impl AuthKit {
    /// One page of the caller's audit entries: by default from the last 7 days (never
    /// earlier than the retention), at most [`MAX_AUDIT_PAGE`].
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn audit_events(
        &self,
        caller: Caller<'_>,
        filter: AuditFilter,
    ) -> Result<AuditPage, AuthError> {
        let now = self.now();
        let from = filter
            .from
            .unwrap_or(now.plus_secs(-DEFAULT_AUDIT_WINDOW_SECS));
        let query = AuditQuery {
            from: from.max(now.plus_secs(-AUDIT_RETENTION_SECS)),
            to: filter.to.map_or(now, |to| to.min(now)),
            kind: filter.kind,
            user: filter.user,
            starting_after: filter.starting_after,
            limit: filter.limit,
        };
        if query.limit == 0 || query.limit > MAX_AUDIT_PAGE {
            return Err(AuthError::InvalidParameter("limit"));
        }
        if query.from > query.to {
            return Ok(AuditPage::default());
        }
        Ok(self
            .stores
            .audit
            .query(&caller.tenant.id, &query, now)
            .await?)
    }
}
