//! The events' way to the audit log under faults: the events table's real stream records,
//! read from the emulator, handed to the event consumers (`authkit_dynamodb::stream::handle`,
//! what `authkit-events` runs) in batches of 100 as Lambda's event source mapping does,
//! each batch delivered again from the record its partial batch response names — while the
//! proxy faults the consumer's writes to the audit table. Lambda's own retrying, batch
//! splitting and dead-letter queue are AWS's; the suite stands in for the retrying only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use authkit_domain::audit::AuditConsumer;
use authkit_domain::event::EventPipeline;
use authkit_dynamodb::stream::{from_dynamodb_record, handle, StreamBatch};
use authkit_tests::fault_proxy::FaultProxy;
use authkit_tests::streams::stream_records;
use authkit_tests::{emulator_sdk, TestApp};
use serde_json::json;

/// Lambda's default batch size for a DynamoDB stream.
const BATCH: usize = 100;
/// Deliveries of one batch before it would go to the dead-letter queue (the stack sets
/// 10 retries; more here: in a long run under sustained faults the SDK's retry quota is
/// spent, and most calls get one attempt).
const ATTEMPTS: usize = 50;

pub struct Delivery {
    pub records: usize,
    pub batches: usize,
    /// Deliveries answered with a failure, and so repeated from the named record.
    pub retried: usize,
    /// Batches still failing after [`ATTEMPTS`]: on AWS, dead letters.
    pub dead_letters: Vec<String>,
    /// The events the stream carries, by id.
    pub events: BTreeSet<String>,
}

fn tables(app: &TestApp) -> authkit_dynamodb::TableNames {
    let env: HashMap<&str, &str> = app
        .env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    authkit_dynamodb::TableNames::from_lookup(&|name: &str| env.get(name).map(|v| v.to_string()))
        .expect("the app's tables")
}

/// Feeds the whole stream to the audit consumer, whose DynamoDB calls go through `proxy`.
pub async fn deliver(app: &TestApp, endpoint: &str, proxy: &FaultProxy) -> Delivery {
    let tables = tables(app);
    let records = stream_records(endpoint, &tables.events).await;
    let audit = authkit_dynamodb::dynamodb_audit_log(
        aws_sdk_dynamodb::Client::new(&emulator_sdk(&proxy.url).await),
        tables,
    );
    let pipeline = EventPipeline::new(vec![Arc::new(AuditConsumer(audit))]);
    let mut delivery = Delivery {
        records: records.len(),
        batches: 0,
        retried: 0,
        dead_letters: Vec::new(),
        events: BTreeSet::new(),
    };
    for chunk in records.chunks(BATCH) {
        let batch: StreamBatch =
            serde_json::from_value(json!({ "Records": chunk })).expect("a stream batch");
        for record in &batch.records {
            if let Ok(Some(event)) = from_dynamodb_record(record) {
                delivery.events.insert(event.id);
            }
        }
        delivery.batches += 1;
        let mut rest = batch.records;
        let mut attempts = 0;
        while !rest.is_empty() {
            attempts += 1;
            let answer = handle(
                &pipeline,
                &StreamBatch {
                    records: rest.clone(),
                },
            )
            .await;
            let Some(failed) = answer.batch_item_failures.first() else {
                break;
            };
            if attempts == ATTEMPTS {
                delivery.dead_letters.push(format!(
                    "a batch still failed after {ATTEMPTS} deliveries, from {}",
                    failed.item_identifier
                ));
                break;
            }
            delivery.retried += 1;
            let from = rest
                .iter()
                .position(|r| r.dynamodb.sequence_number == failed.item_identifier)
                .expect("the failed record is in the batch");
            rest.drain(..from);
        }
    }
    delivery
}

/// Events of the stream missing from the audit log or in it more than once, and entries
/// no event explains; read from the table, every entry (`sk = <time>#<event id>`).
pub async fn audit_failures(app: &TestApp, endpoint: &str, delivery: &Delivery) -> Vec<String> {
    let client = aws_sdk_dynamodb::Client::new(&emulator_sdk(endpoint).await);
    let table = tables(app).audit;
    let mut entries: BTreeMap<String, u64> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|error| panic!("scan {table}: {error:?}"));
        for item in page.items() {
            let id = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| sk.split_once('#'))
                .map(|(_, id)| id.to_owned())
                .unwrap_or_default();
            *entries.entry(id).or_default() += 1;
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    let lost = delivery
        .events
        .iter()
        .filter(|id| !entries.contains_key(*id))
        .count();
    let duplicated = entries.values().filter(|n| **n > 1).count();
    let unexplained = entries
        .keys()
        .filter(|id| !delivery.events.contains(*id))
        .count();
    let mut failures = delivery.dead_letters.clone();
    for (what, n) in [
        ("events not in the audit log", lost),
        ("events in the audit log more than once", duplicated),
        ("audit entries of no recorded event", unexplained),
    ] {
        if n > 0 {
            failures.push(format!("{what}: {n} of {}", delivery.events.len()));
        }
    }
    failures
}

impl Delivery {
    /// The figures for the report.
    pub fn summary(&self) -> String {
        format!(
            "{} stream records ({} events) in {} batches; {} deliveries failed and were repeated",
            self.records,
            self.events.len(),
            self.batches,
            self.retried
        )
    }
}
