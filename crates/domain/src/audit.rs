//! The audit log: the first consumer of domain events. It keeps every event for 90 days
//! (identifiers masked, no secrets) and is idempotent by event id, so a batch delivered
//! twice leaves one entry per event, and a refusal count delivered again leaves its
//! largest count.

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::event::{Event, EventConsumer};
use crate::store::{AuditLog, BoxError};

/// How long audit entries are kept (DynamoDB TTL).
pub const AUDIT_RETENTION_SECS: i64 = 90 * 24 * 3600;

/// When the audit log may forget `event`.
pub fn purge_at(event: &Event) -> Timestamp {
    event.at.plus_secs(AUDIT_RETENTION_SECS)
}

/// Feeds the pipeline's events into an [`AuditLog`].
pub struct AuditConsumer(pub Arc<dyn AuditLog>);

#[async_trait]
impl EventConsumer for AuditConsumer {
    fn name(&self) -> &'static str {
        "audit"
    }

    async fn consume(&self, events: &[Event]) -> Result<(), BoxError> {
        self.0.record(events).await.map_err(BoxError::from)
    }
}
