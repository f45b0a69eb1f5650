//! Audit events: `pk = <tenant>#<day number>`, `sk = <zero-padded time>#<event id>`, so a
//! day's events are one Query in time order and no partition grows without bound.

use async_trait::async_trait;
use authkit_domain::audit::AuditEvent;
use authkit_domain::clock::Timestamp;
use authkit_domain::store::{AuditLog, StoreError};
use authkit_domain::tenant::TenantId;

use crate::item::{key, n, s, to_json, Fields};
use crate::{store_error, DynamoStore};

const DAY: i64 = 86_400;
/// How far back `recent` looks.
const RECENT_DAYS: i64 = 7;

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut item = key(
            format!("{}#{}", event.tenant, event.at.0.div_euclid(DAY)),
            &format!("{:012}#{}", event.at.0, event.id),
        );
        item.insert("event".to_owned(), s(to_json(event)?));
        item.insert("ttl".to_owned(), n(event.purge_at().0));
        self.client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn recent(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events = Vec::new();
        let today = now.0.div_euclid(DAY);
        for day in (today - RECENT_DAYS..=today).rev() {
            if events.len() >= limit {
                break;
            }
            let output = self
                .client
                .query()
                .table_name(&self.tables.audit)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("{tenant}#{day}")))
                .scan_index_forward(false)
                .limit(i32::try_from(limit - events.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(store_error)?;
            for item in output.items() {
                if !Fields(item).expired(now) {
                    events.push(Fields(item).json("event")?);
                }
            }
        }
        events.truncate(limit);
        Ok(events)
    }

    /// A key lookup on the audit table: proves the endpoint, credentials and table.
    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.tables.audit)
            .set_key(Some(key("ping".to_owned(), "ping")))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
