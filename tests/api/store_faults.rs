//! A DynamoDB that throttles or stops answering, between AuthKit and the emulator (the
//! fault proxy): the client gets a typed 503 that says when to retry, in bounded time.
//! The sign-in-scale fault suite is `tests/faults` (run by scripts/test.sh).

use std::time::{Duration, Instant};

use authkit_tests::fault_proxy::{Fault, FaultPlan, FaultProxy};
use authkit_tests::{emulator_endpoint, Backend, TestApp};

async fn app_behind(proxy: &FaultProxy) -> TestApp {
    TestApp::spawn_with(
        Backend::Emulator,
        &[
            ("AWS_ENDPOINT_URL", &proxy.url),
            ("AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS", "200"),
            ("AUTHKIT_AWS_OPERATION_TIMEOUT_MS", "1000"),
        ],
    )
    .await
}

fn every_dynamodb_call(fault: Fault) -> FaultPlan {
    FaultPlan {
        dynamodb_rate: 1.0,
        delivery_rate: 0.0,
        kinds: vec![fault],
        hold: Duration::from_secs(30),
        seed: 12,
    }
}

async fn assert_retryable_503(app: &TestApp, within: Duration) {
    let started = Instant::now();
    let response = app
        .http
        .post(app.url("/v1/auth/start"))
        .header("x-api-key", &app.publishable_key)
        .json(&serde_json::json!({"identifier": app.unique_email()}))
        .timeout(within)
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "no answer within {within:?} ({:?} elapsed): {error}",
                started.elapsed()
            )
        });
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["retry-after"],
        "1",
        "a 503 says when to retry"
    );
    let problem: serde_json::Value = response.json().await.expect("problem JSON");
    assert_eq!(problem["code"], "unavailable");
}

#[tokio::test]
async fn a_throttled_dynamodb_answers_503_with_retry_after() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let proxy = FaultProxy::start(&endpoint, every_dynamodb_call(Fault::ThroughputExceeded)).await;
    let app = app_behind(&proxy).await;
    proxy.set_faults(true);
    assert_retryable_503(&app, Duration::from_secs(10)).await;
    let injected: u64 = proxy.report().injected.values().sum();
    assert!(
        injected >= 5,
        "the SDK retried before giving up: {injected}"
    );
}

#[tokio::test]
async fn a_dynamodb_that_never_answers_ends_in_503_not_a_hang() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let proxy = FaultProxy::start(&endpoint, every_dynamodb_call(Fault::Timeout)).await;
    let app = app_behind(&proxy).await;
    proxy.set_faults(true);
    // The operation timeout (1 s here) bounds each DynamoDB call; the API-key lookup
    // is the first and fails the request.
    assert_retryable_503(&app, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_cognito_trigger_starts_while_dynamodb_is_down_and_reads_its_tenant_when_invoked() {
    use authkit_tests::lambda_runtime_api::{binary_path, LambdaFunction};
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let proxy = FaultProxy::start(&endpoint, every_dynamodb_call(Fault::ConnectionReset)).await;
    let app = app_behind(&proxy).await;
    let mut env = app.env.clone();
    for (name, value) in [
        ("AUTHKIT_COGNITO_TENANT", app.tenant.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        env.push((name.into(), value.into()));
    }
    // What the app's own setup (the tenant) sent through the proxy, before the function.
    let before_init = proxy.report().dynamodb_operations;
    proxy.set_faults(true);
    let create = LambdaFunction::try_start(&binary_path("authkit-create-auth-challenge"), &env)
        .await
        .unwrap_or_else(|error| panic!("the cold start read the store: {error}"));
    assert_eq!(
        proxy.report().dynamodb_operations,
        before_init,
        "no DynamoDB call at init"
    );
    proxy.set_faults(false);
    let mut event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../crates/cognito/tests/fixtures/example-cognito-event-userpools-create-auth-challenge.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("AWS's sample event"),
    )
    .expect("JSON");
    event["request"]["userAttributes"] =
        serde_json::json!({"sub": "u-1", "email": app.unique_email()});
    let created = create.invoke(event).await.expect("a challenge");
    create.stop().await;
    assert_eq!(
        created["response"]["publicChallengeParameters"]["channel"], "email",
        "{created}"
    );
    assert!(
        proxy.report().dynamodb_operations.get("GetItem") > before_init.get("GetItem"),
        "the tenant is read at the first invocation"
    );
}
