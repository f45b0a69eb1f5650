//! The event pipeline on DynamoDB: the events table's real stream records, read from the
//! emulator's DynamoDB Streams API the way Lambda's event source mapping reads them, fed to
//! the real `authkit-events` binary under the emulated Lambda Runtime API. moto runs no
//! event source mappings, so Lambda's retrying, batch splitting and dead-letter queue are
//! AWS's and untested here; what is shown is AuthKit's part: a batch that failed, was cut
//! off by a killed process, or came twice still leaves every event in the audit log
//! exactly once.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use authkit_domain::tenant::TenantId;
use authkit_tests::lambda_runtime_api::{binary_path, LambdaFunction};
use authkit_tests::round_trips::Meter;
use authkit_tests::streams::stream_records;
use authkit_tests::{emulator_endpoint, emulator_sdk, Backend, TestApp};
use serde_json::{json, Value};

fn batch(records: &[Value]) -> Value {
    json!({ "Records": records })
}

/// The event ids the records carry.
fn event_ids(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .map(|record| {
            let event: Value = serde_json::from_str(
                record["dynamodb"]["NewImage"]["event"]["S"]
                    .as_str()
                    .expect("an event item"),
            )
            .expect("the event's JSON");
            event["id"].as_str().expect("an id").to_owned()
        })
        .collect()
}

/// Hands every event the app recorded so far to the real `authkit-events` binary, as
/// Lambda's event source mapping would (at least once: earlier ones come again).
pub(crate) async fn run_events_consumer(app: &TestApp, endpoint: &str) {
    let env: HashMap<String, String> = app.env.iter().cloned().collect();
    let records = stream_records(endpoint, &env["AUTHKIT_TABLE_EVENTS"]).await;
    let mut deployed: Vec<(String, String)> = app.env.clone();
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        deployed = with(&deployed, name, value);
    }
    let consumer = LambdaFunction::start(&binary_path("authkit-events"), &deployed).await;
    let answer = consumer.invoke(batch(&records)).await;
    assert_eq!(answer, Ok(json!({"batchItemFailures": []})));
    consumer.stop().await;
}

fn with(env: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != name).cloned().collect();
    env.push((name.to_owned(), value.to_owned()));
    env
}

#[tokio::test]
async fn every_event_reaches_the_audit_log_exactly_once_whatever_its_batch_went_through() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let app = TestApp::spawn(Backend::Emulator).await;
    for _ in 0..3 {
        let tokens = app.sign_in(&app.unique_email()).await;
        let refreshed = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": tokens["refresh_token"]}),
            )
            .await;
        assert_eq!(refreshed.status(), 200);
    }
    let env: HashMap<String, String> = app.env.iter().cloned().collect();
    let records = stream_records(&endpoint, &env["AUTHKIT_TABLE_EVENTS"]).await;
    let recorded = event_ids(&records);
    // The tenant's creation (audited like every operator change), then per sign-in:
    // started, verified, user created, session opened, session rotated.
    assert_eq!(recorded.len(), 1 + 15, "one stream record per event");
    let first_sequence = records[0]["dynamodb"]["SequenceNumber"].clone();

    let mut deployed: Vec<(String, String)> = app.env.clone();
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        deployed = with(&deployed, name, value);
    }
    let binary = binary_path("authkit-events");

    // The audit table cannot be written: the function asks for the batch again, whole.
    let broken =
        LambdaFunction::start(&binary, &with(&deployed, "AUTHKIT_TABLE_AUDIT", "missing")).await;
    let answer = broken.invoke(batch(&records)).await.expect("an answer");
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": first_sequence}]}),
        "a failed batch is retried from its first record"
    );
    broken.stop().await;

    // Half the batch went through; then the process is killed in the middle of the whole
    // batch (its DynamoDB calls held by a slow proxy), before it could answer.
    let working = LambdaFunction::start(&binary, &deployed).await;
    let half = working.invoke(batch(&records[..records.len() / 2])).await;
    assert_eq!(half, Ok(json!({"batchItemFailures": []})));
    working.stop().await;
    let slow = Meter::start(&endpoint, Duration::from_secs(5)).await;
    let killed =
        LambdaFunction::start(&binary, &with(&deployed, "AWS_ENDPOINT_URL", slow.url())).await;
    let cut_off =
        tokio::time::timeout(Duration::from_millis(500), killed.invoke(batch(&records))).await;
    assert!(cut_off.is_err(), "the process was still at work");
    killed.stop().await;

    // Lambda hands the batch to a fresh process, and (at least once means maybe twice)
    // again.
    let fresh = LambdaFunction::start(&binary, &deployed).await;
    for _ in 0..2 {
        let answer = fresh.invoke(batch(&records)).await;
        assert_eq!(answer, Ok(json!({"batchItemFailures": []})));
    }
    fresh.stop().await;

    let sdk = emulator_sdk(&endpoint).await;
    let tables = authkit_dynamodb::TableNames::from_lookup(&|name: &str| env.get(name).cloned())
        .expect("the app's tables");
    let audit = authkit_dynamodb::dynamodb_audit_log(aws_sdk_dynamodb::Client::new(&sdk), tables);
    let now = authkit_domain::Clock::now(&authkit_domain::SystemClock);
    let tenant = TenantId::parse(&app.tenant).expect("the tenant");
    let entries = audit
        .recent(&tenant, now, 1_000)
        .await
        .expect("the audit log");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in &entries {
        *seen.entry(entry.id.clone()).or_default() += 1;
    }
    assert!(
        seen.values().all(|n| *n == 1),
        "an event is in the audit log more than once: {seen:?}"
    );
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        recorded,
        "every recorded event is in the audit log"
    );
}
