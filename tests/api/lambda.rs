//! The real Lambda binaries under an emulated Runtime API, fed API Gateway HTTP API (v2)
//! events shaped like AWS's own sample (`tests/fixtures/`).

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

fn with_credentials(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    for (name, value) in [
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
    let env = with_credentials(vec![
        (
            "AUTHKIT_KEY_FILE".to_string(),
            scratch.path().join("keys.json").display().to_string(),
        ),
        ("AUTHKIT_DELIVERY".to_string(), "aws".to_string()),
        (
            "AUTHKIT_SES_FROM".to_string(),
            "no-reply@example.com".to_string(),
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
    function.stop().await;
}

#[tokio::test]
async fn the_start_and_verify_lambdas_sign_a_user_in_against_the_emulator() {
    if emulator_endpoint().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Emulator).await;
    let env = with_credentials(app.env.clone());
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
