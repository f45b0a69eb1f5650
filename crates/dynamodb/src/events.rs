//! The events table, AuthKit's outbox: one item per event (`pk = <tenant>#<event id>`,
//! `sk = event`), written in the same transaction as the change it records, and one item
//! per tenant, refusal reason and minute (`pk = <tenant>#refused_<reason>_<minute>`) that
//! refusals `ADD` to. The table's stream (new images) carries both to the
//! `authkit-events` function ([`crate::stream`]). Every event has a key of its own, so the
//! table's writes spread over as many partitions as there are events; items expire after
//! a day, by when the stream (which keeps records 24 hours) has delivered them.

use authkit_domain::clock::Timestamp;
use authkit_domain::event::{Event, RefusalReason};
use authkit_domain::store::StoreError;
use authkit_domain::tenant::TenantId;

use crate::item::{key, n, s, to_json, Fields, Item};

const SK: &str = "event";

/// How long the table keeps an item.
const KEPT_SECS: i64 = 24 * 3600;

pub(crate) fn event_key(tenant: &TenantId, id: &str) -> Item {
    key(format!("{tenant}#{id}"), SK)
}

pub(crate) fn event_item(event: &Event) -> Result<Item, StoreError> {
    let mut item = event_key(&event.tenant, &event.id);
    item.extend([
        ("tenant".to_owned(), s(event.tenant.as_str())),
        ("event".to_owned(), s(to_json(event)?)),
        ("ttl".to_owned(), n(event.at.plus_secs(KEPT_SECS).0)),
    ]);
    Ok(item)
}

/// The key of one minute's refusal count: the key its event would have.
pub(crate) fn refusals_key(tenant: &TenantId, reason: RefusalReason, minute: Timestamp) -> Item {
    event_key(tenant, &Event::refusals(tenant, reason, minute, 0).id)
}

/// How long a refusal count is kept.
pub(crate) fn refusals_ttl(minute: Timestamp) -> Timestamp {
    minute.plus_secs(KEPT_SECS)
}

/// An event item, or a refusal count as its event.
pub(crate) fn event_from_item(item: &Item) -> Result<Event, StoreError> {
    let f = Fields(item);
    if let Some(event) = f.opt_str("event")? {
        return serde_json::from_str(event).map_err(|_| crate::item::corrupt("event"));
    }
    Ok(Event::refusals(
        &f.parsed("tenant", TenantId::parse)?,
        f.parsed("reason", |raw| RefusalReason::parse(raw).ok_or(()))?,
        f.time("minute")?,
        u64::try_from(f.int("count")?).map_err(|_| crate::item::corrupt("count"))?,
    ))
}
