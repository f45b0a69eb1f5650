//! The tenant's audit log, as its servers read it: filtered, newest first, in pages.

use super::{AuthKit, Caller};
use crate::audit::{AuditPage, AuditQuery, AUDIT_RETENTION_SECS};
use crate::error::AuthError;

/// The most entries one page holds.
pub const MAX_AUDIT_PAGE: usize = 100;

impl AuthKit {
    /// One page of the caller's audit entries. The range defaults to everything kept (its
    /// start is never earlier than the retention allows); `limit` to [`MAX_AUDIT_PAGE`].
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn audit_events(
        &self,
        caller: Caller<'_>,
        mut query: AuditQuery,
    ) -> Result<AuditPage, AuthError> {
        let now = self.now();
        query.from = query.from.max(now.plus_secs(-AUDIT_RETENTION_SECS));
        query.to = query.to.min(now);
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
