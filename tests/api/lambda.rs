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

    // A resource server asks the token function whether the access token is still live.
    let token = LambdaFunction::start(&binary_path("authkit-token"), &env).await;
    let introspected = token
        .invoke(api_gateway_event(
            "POST",
            "/v1/token/introspect",
            &[("x-api-key", &app.secret_key)],
            Some(json!({"token": tokens["access_token"]})),
        ))
        .await
        .expect("a response");
    assert_eq!(introspected["statusCode"], 200, "{introspected}");
    assert_eq!(body_of(&introspected)["active"], true);
    token.stop().await;
}

/// The app's configuration with `set` replacing or adding variables, as deployed.
fn with_vars(env: &[(String, String)], set: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .filter(|(name, _)| !set.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    env.extend(set.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    as_deployed(env)
}

#[tokio::test]
async fn only_the_functions_that_hash_secrets_read_the_pepper() {
    if emulator_endpoint().is_none() {
        return;
    }
    // The test app keeps its keys as a deployment does: signing keys and pepper apart.
    let app = TestApp::spawn(Backend::Emulator).await;

    // Discovery publishes the public keys from the signing-key secret alone.
    let discovery_env = as_deployed(
        app.env
            .iter()
            .filter(|(name, _)| name != "AUTHKIT_PEPPER_SECRET_ID")
            .cloned()
            .collect(),
    );
    let discovery = LambdaFunction::start(&binary_path("authkit-discovery"), &discovery_env).await;
    let jwks = discovery
        .invoke(api_gateway_event(
            "GET",
            "/.well-known/jwks.json",
            &[],
            None,
        ))
        .await
        .expect("a response");
    assert_eq!(jwks["statusCode"], 200, "{jwks}");
    assert!(!body_of(&jwks)["keys"].as_array().expect("keys").is_empty());
    discovery.stop().await;

    // Health reads no key material at all: a key secret it cannot read does not stop it.
    let health_env = with_vars(&app.env, &[("AUTHKIT_KEYS_SECRET_ID", "no-such-secret")]);
    let health = LambdaFunction::start(&binary_path("authkit-health"), &health_env).await;
    let ready = health
        .invoke(api_gateway_event("GET", "/ready", &[], None))
        .await
        .expect("a response");
    assert_eq!(ready["statusCode"], 200, "{ready}");
    health.stop().await;

    // A sign-in function gets the pepper from its own secret.
    let start_env = as_deployed(app.env.clone());
    let start = LambdaFunction::start(&binary_path("authkit-start"), &start_env).await;
    let started = start
        .invoke(api_gateway_event(
            "POST",
            "/v1/auth/start",
            &[("x-api-key", &app.publishable_key)],
            Some(json!({"identifier": app.unique_email()})),
        ))
        .await
        .expect("a response");
    assert_eq!(started["statusCode"], 200, "{started}");
    start.stop().await;
}

fn cognito_event(name: &str) -> Value {
    let path = format!(
        "{}/../crates/cognito/tests/fixtures/example-cognito-event-userpools-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("an AWS sample event"))
        .expect("the AWS sample parses")
}

/// The error a function posted instead of its first poll for an event.
async fn init_error(binary: &str, env: &[(String, String)]) -> Value {
    match LambdaFunction::try_start(&binary_path(binary), env).await {
        Ok(function) => {
            function.stop().await;
            panic!("{binary} started although its configuration is wrong")
        }
        Err(error) => error,
    }
}

#[tokio::test]
async fn a_cold_start_that_fails_reports_a_configuration_error_naming_the_setting() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let deployed = |extra: &[(&str, &str)]| {
        let mut env = as_deployed(vec![
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
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };

    // No issuer: a deployed function that issues tokens or links has no address of its own
    // to fall back on. (Health builds only its store probe and needs none.)
    let no_issuer = init_error("authkit-start", &deployed(&[])).await;
    assert_eq!(no_issuer["errorType"], "Configuration", "{no_issuer}");
    let message = no_issuer["errorMessage"].as_str().expect("a message");
    assert!(message.contains("AUTHKIT_ISSUER"), "{message}");

    let with_issuer = |extra: &[(&str, &str)]| {
        let mut env = deployed(&[("AUTHKIT_ISSUER", "https://auth.example.com")]);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let bad_number = init_error(
        "authkit-define-auth-challenge",
        &with_issuer(&[("AUTHKIT_COGNITO_MAX_ATTEMPTS", "0")]),
    )
    .await;
    assert_eq!(bad_number["errorType"], "Configuration", "{bad_number}");
    assert!(
        bad_number["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("AUTHKIT_COGNITO_MAX_ATTEMPTS")),
        "{bad_number}"
    );

    // A tenant id that cannot exist is this function's configuration, found at init.
    let malformed_tenant = init_error(
        "authkit-create-auth-challenge",
        &with_issuer(&[("AUTHKIT_COGNITO_TENANT", "Not A Tenant")]),
    )
    .await;
    assert_eq!(
        malformed_tenant["errorType"], "Configuration",
        "{malformed_tenant}"
    );
    assert!(
        malformed_tenant["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("AUTHKIT_COGNITO_TENANT `Not A Tenant`")),
        "{malformed_tenant}"
    );
}

#[tokio::test]
async fn an_unknown_cognito_tenant_fails_each_invocation_not_the_cold_start() {
    // The triggers read their tenant when invoked, not at init (decision 83: a cold start
    // pays no store read), so a tenant nobody created is found by the first invocation,
    // which fails as the function's configuration; the embedded store of a fresh process
    // holds no tenant.
    let scratch = tempfile::tempdir().expect("a temp dir");
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
        ("AUTHKIT_COGNITO_TENANT".to_string(), "nobody".to_string()),
    ]);
    for (binary, event) in [
        ("authkit-create-auth-challenge", "create-auth-challenge"),
        ("authkit-verify-auth-challenge", "verify-auth-challenge"),
    ] {
        let trigger = LambdaFunction::try_start(&binary_path(binary), &env)
            .await
            .unwrap_or_else(|error| panic!("{binary} failed its cold start: {error}"));
        for invocation in ["first", "second"] {
            let unknown_tenant = trigger
                .invoke(cognito_event(event))
                .await
                .expect_err("no such tenant");
            assert_eq!(
                unknown_tenant["errorType"], "Configuration",
                "{binary}, {invocation} invocation: {unknown_tenant}"
            );
            let message = unknown_tenant["errorMessage"].as_str().expect("a message");
            assert!(
                message.contains("AUTHKIT_COGNITO_TENANT `nobody`") && message.contains("tenant"),
                "{binary}, {invocation} invocation: {message}"
            );
        }
        trigger.stop().await;
    }
}

#[tokio::test]
async fn an_event_of_the_wrong_shape_is_reported_as_an_invalid_event() {
    let env = as_deployed(vec![("AUTHKIT_COGNITO_MAX_ATTEMPTS".into(), "3".into())]);
    let define = LambdaFunction::start(&binary_path("authkit-define-auth-challenge"), &env).await;
    let error = define
        .invoke(json!({"request": {"session": "not a list"}}))
        .await
        .expect_err("refused");
    assert_eq!(error["errorType"], "InvalidEvent", "{error}");
    let message = error["errorMessage"].as_str().expect("a message");
    assert!(
        message.contains("CognitoEventUserPoolsDefineAuthChallenge")
            && message.contains("request.session"),
        "{message}"
    );
    let answered = define
        .invoke(cognito_event("define-auth-challenge"))
        .await
        .expect("the function still serves");
    assert_eq!(
        answered["response"]["failAuthentication"], true,
        "{answered}"
    );
    define.stop().await;
}

#[tokio::test]
async fn trigger_errors_say_what_went_wrong_without_the_answer() {
    if emulator_endpoint().is_none() {
        return;
    }
    let app = TestApp::spawn(Backend::Emulator).await;
    let mut env = as_deployed(app.env.clone());
    env.push(("AUTHKIT_COGNITO_TENANT".into(), app.tenant.clone()));
    let create = LambdaFunction::start(&binary_path("authkit-create-auth-challenge"), &env).await;
    let verify = LambdaFunction::start(&binary_path("authkit-verify-auth-challenge"), &env).await;

    // A user with neither email nor phone: nothing to send a code to.
    let mut no_contact = cognito_event("create-auth-challenge");
    no_contact["request"]["userAttributes"] = json!({"sub": "u-1"});
    let error = create.invoke(no_contact).await.expect_err("refused");
    assert_eq!(error["errorType"], "InvalidEvent", "{error}");
    assert_eq!(
        error["errorMessage"],
        "the user has no proven email or phone number for this sign-in"
    );

    // AWS's sample verify event: an answer, but no challenge AuthKit created.
    let error = verify
        .invoke(cognito_event("verify-auth-challenge"))
        .await
        .expect_err("refused");
    assert_eq!(error["errorType"], "InvalidEvent", "{error}");
    let message = error["errorMessage"].as_str().expect("a message");
    assert!(message.contains("challenge_id"), "{message}");
    assert!(
        !message.contains("123xxxx"),
        "the answer stays out: {message}"
    );

    // The function survives its errors: a usable event still gets a challenge.
    let mut usable = cognito_event("create-auth-challenge");
    let email = app.unique_email();
    usable["request"]["userAttributes"] = json!({"sub": "u-2", "email": email});
    let created = create.invoke(usable).await.expect("a challenge");
    assert_eq!(
        created["response"]["publicChallengeParameters"]["channel"], "email",
        "{created}"
    );
    create.stop().await;
    verify.stop().await;
}
