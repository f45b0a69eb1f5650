//! The real Lambda binaries under an emulated Runtime API, fed events shaped like AWS's own
//! samples (`tests/fixtures/`): API Gateway HTTP API (v2), REST API (v1) and ALB.

use authkit_tests::lambda_runtime_api::{binary_path, LambdaFunction};
use authkit_tests::{emulator_endpoint, Backend, TestApp};
use serde_json::{json, Value};

fn api_gateway_event(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../fixtures/example-apigw-v2-request-no-authorizer.json"
    ))
    .expect("the AWS sample parses");
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    if let Some(body) = body {
        event["headers"]["content-type"] = json!("application/json");
        event["body"] = json!(body.to_string());
    }
    event
}

/// `env` plus what Lambda and Terraform add: credentials, region, and routes without the
/// API stage in their path (infra/main.tf sets AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH).
fn as_deployed(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    for (name, value) in [
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        env.push((name.into(), value.into()));
    }
    env
}

fn body_of(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a body")).expect("a JSON body")
}

#[tokio::test]
async fn the_health_lambda_answers_api_gateway_events_and_unknown_routes_get_problems() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    // The embedded store with real (unused) AWS delivery: Lambda builds never carry the outbox.
    let env = as_deployed(vec![
        (
            "AUTHKIT_KEY_FILE".to_string(),
            scratch.path().join("keys.json").display().to_string(),
        ),
        ("AUTHKIT_DELIVERY".to_string(), "aws".to_string()),
        (
            "AUTHKIT_SES_FROM".to_string(),
            "no-reply@example.com".to_string(),
        ),
        (
            "AUTHKIT_ISSUER".to_string(),
            "https://auth.example.com".to_string(),
        ),
    ]);
    let function = LambdaFunction::start(&binary_path("authkit-health"), &env).await;
    eprintln!(
        "authkit-health cold start (debug build): {:?}",
        function.cold_start
    );

    let health = function
        .invoke(api_gateway_event("GET", "/health", &[], None))
        .await
        .expect("a response");
    assert_eq!(health["statusCode"], 200);
    let missing = function
        .invoke(api_gateway_event("GET", "/nope", &[], None))
        .await
        .expect("a response");
    assert_eq!(missing["statusCode"], 404);
    assert_eq!(
        missing["headers"]["content-type"],
        "application/problem+json"
    );

    // The same function behind an API Gateway REST API (payload 1.0, the front that takes
    // WAF directly) or an Application Load Balancer: AWS's samples, pointed at /health.
    let mut rest: Value =
        serde_json::from_str(include_str!("../fixtures/example-apigw-request.json")).unwrap();
    rest["httpMethod"] = json!("GET");
    rest["path"] = json!("/health");
    rest["requestContext"]["path"] = json!("/testStage/health");
    rest["resource"] = json!("/health");
    rest["body"] = Value::Null;
    let mut alb: Value = serde_json::from_str(include_str!(
        "../fixtures/example-alb-lambda-target-request-headers-only.json"
    ))
    .unwrap();
    alb["path"] = json!("/health");
    for (front, event) in [("REST API", rest), ("ALB", alb)] {
        let response = function.invoke(event).await.expect("a response");
        assert_eq!(response["statusCode"], 200, "{front}: {response}");
        assert_eq!(body_of(&response)["status"], "ok", "{front}: {response}");
    }
    function.stop().await;
}

#[tokio::test]
async fn the_start_and_verify_lambdas_sign_a_user_in_against_the_emulator() {
    if emulator_endpoint().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Emulator).await;
    let env = as_deployed(app.env.clone());
    let start = LambdaFunction::start(&binary_path("authkit-start"), &env).await;
    let verify = LambdaFunction::start(&binary_path("authkit-verify"), &env).await;

    let email = app.unique_email();
    let key = app.publishable_key.clone();
    let started = start
        .invoke(api_gateway_event(
            "POST",
            "/v1/auth/start",
            &[("x-api-key", &key)],
            Some(json!({"identifier": email})),
        ))
        .await
        .expect("a response");
    assert_eq!(started["statusCode"], 200, "{started}");
    let challenge_id = body_of(&started)["challenge_id"]
        .as_str()
        .expect("a challenge id")
        .to_owned();

    let code = app.code_sent_to(&email).await;
    let verified = verify
        .invoke(api_gateway_event(
            "POST",
            "/v1/auth/verify",
            &[("x-api-key", &key)],
            Some(json!({"challenge_id": challenge_id, "code": code})),
        ))
        .await
        .expect("a response");
    assert_eq!(verified["statusCode"], 200, "{verified}");
    let tokens = body_of(&verified);
    app.verify_with_published_jwks(tokens["access_token"].as_str().expect("an access token"))
        .await;
    start.stop().await;
    verify.stop().await;
}
