//! Self-service sign-up over HTTP: the address proved by a console code (a sign-in that
//! creates nothing), the tenant made with its owner and keys by the console token, a
//! retried creation answered with the same tenant, the operator's `off`, and wrong codes
//! and project names that create nothing, and the operator's sign-up invitations listed and
//! revoked.

use authkit_tests::operator::{code_of, secret_of, text};
use authkit_tests::{emulator_endpoint, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Runs `test` against an app with `AUTHKIT_SIGNUP=mode` (and its console tenant, whose
/// publishable key it is given) on every backend available.
async fn for_each_backend_with<F, Fut>(mode: &str, test: F)
where
    F: Fn(TestApp, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut backends = vec![Backend::Embedded];
    if emulator_endpoint().is_some() {
        backends.push(Backend::Emulator);
    }
    for backend in backends {
        let app = TestApp::spawn_with(backend, &[("AUTHKIT_SIGNUP", mode)]).await;
        let console_key = app
            .bootstrap_console()
            .await
            .expect("a new console tenant")
            .publishable;
        test(app, console_key).await;
    }
}

async fn signup(app: &TestApp, email: &str, project: &str) -> reqwest::Response {
    app.post(
        "/v1/signup",
        None,
        json!({"email": email, "project_name": project}),
    )
    .await
}

/// Both sign-up steps for a fresh address: the console sign-in's answer.
async fn signed_up(app: &TestApp, project: &str) -> Value {
    let email = app.unique_email();
    let started = signup(app, &email, project).await;
    assert_eq!(started.status(), 200, "{}", text(started).await);
    let started: Value = started.json().await.unwrap();
    let code = app.code_sent_to(&email).await;
    let verified = verify(app, &started, &code).await;
    assert_eq!(verified.status(), 200, "{}", text(verified).await);
    verified.json().await.unwrap()
}

async fn create_tenant(app: &TestApp, token: &str, project: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/signup/tenant"))
        .bearer_auth(token)
        .json(&json!({"project_name": project}))
        .send()
        .await
        .unwrap()
}

/// The sign-up's second step: the code of the started sign-up, answered.
async fn verify(app: &TestApp, started: &Value, code: &str) -> reqwest::Response {
    app.post(
        "/v1/signup/verify",
        None,
        json!({"challenge_id": started["challenge_id"], "code": code}),
    )
    .await
}

async fn tenant_names(app: &TestApp) -> Vec<String> {
    let listed: Value = app
        .admin(Method::GET, "/admin/v1/tenants?limit=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn sign_up_creates_a_tenant_whose_keys_and_owner_work() {
    for_each_backend_with("open", |app: TestApp, _| async move {
        let console = signed_up(&app, "Acme Shop").await;
        assert!(
            !tenant_names(&app).await.contains(&"Acme Shop".to_owned()),
            "verifying only signs in to the console"
        );
        let token = console["access_token"].as_str().unwrap().to_owned();
        let created = create_tenant(&app, &token, "Acme Shop").await;
        assert_eq!(created.status(), 201, "{}", text(created).await);
        let body: Value = created.json().await.unwrap();
        let tenant = body["id"].as_str().unwrap().to_owned();
        assert!(tenant.starts_with("acme-shop"), "{body}");
        let secret = secret_of(&body, "secret");
        let read = app
            .tenant_api(Method::GET, "/v1/tenant", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "{}", text(read).await);
        let read: Value = read.json().await.unwrap();
        assert_eq!(read["id"], tenant.as_str());
        assert_eq!(read["name"], "Acme Shop");

        let mine: Value = app
            .http
            .get(app.url("/v1/memberships"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let owned = mine["data"]
            .as_array()
            .unwrap_or_else(|| panic!("memberships: {mine}"))
            .iter()
            .any(|m| m["tenant"] == tenant.as_str() && m["role"] == "owner");
        assert!(owned, "the new owner's memberships list the tenant: {mine}");
    })
    .await;
}

#[tokio::test]
async fn a_retried_tenant_creation_answers_the_same_tenant_and_keys() {
    for_each_backend_with("open", |app: TestApp, _| async move {
        let console = signed_up(&app, "Lost Answer").await;
        let token = console["access_token"].as_str().unwrap();
        let first: Value = create_tenant(&app, token, "Lost Answer")
            .await
            .json()
            .await
            .unwrap();
        // The answer never arrived: the client asks again.
        let again = create_tenant(&app, token, "Lost Answer").await;
        assert_eq!(again.status(), 201, "{}", text(again).await);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        assert_eq!(secret_of(&again, "secret"), secret_of(&first, "secret"));
        let made = tenant_names(&app)
            .await
            .iter()
            .filter(|name| *name == "Lost Answer")
            .count();
        assert_eq!(made, 1, "one tenant");

        // With an Idempotency-Key, the key names the request.
        let keyed = |name: &'static str| {
            app.http
                .post(app.url("/v1/signup/tenant"))
                .bearer_auth(token)
                .header("idempotency-key", "signup-retry-1")
                .json(&json!({ "project_name": name }))
                .send()
        };
        let one: Value = keyed("Keyed").await.unwrap().json().await.unwrap();
        let two: Value = keyed("Keyed").await.unwrap().json().await.unwrap();
        assert_eq!(one["id"], two["id"]);
        let reused = keyed("Another").await.unwrap();
        assert_eq!(code_of(reused).await.1, "idempotency_key_reused");
    })
    .await;
}

#[tokio::test]
async fn the_tenant_is_created_only_with_a_console_token() {
    for_each_backend_with("open", |app: TestApp, _| async move {
        let none = app
            .http
            .post(app.url("/v1/signup/tenant"))
            .json(&json!({"project_name": "Nobody"}))
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(none).await.0, 401);
        let with_secret_key = create_tenant(&app, &app.secret_key, "Key").await;
        assert_eq!(code_of(with_secret_key).await.0, 401);
        let signed_in = app.sign_in(&app.unique_email()).await;
        let token = signed_in["access_token"].as_str().unwrap();
        let other_tenants_user = create_tenant(&app, token, "Elsewhere").await;
        assert_eq!(
            code_of(other_tenants_user).await.0,
            401,
            "a token of another tenant than the console"
        );
    })
    .await;
}

#[tokio::test]
async fn the_start_answers_alike_for_a_new_address_and_a_known_one() {
    for_each_backend_with("open", |app: TestApp, console_key| async move {
        let known = app.unique_email();
        app.console_sign_in(&console_key, &known).await;
        let shape = |body: &Value| {
            let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let fresh = signup(&app, &app.unique_email(), "Fresh").await;
        assert_eq!(fresh.status(), 200);
        let fresh: Value = fresh.json().await.unwrap();
        let again = signup(&app, &known, "Known").await;
        assert_eq!(again.status(), 200);
        let again: Value = again.json().await.unwrap();
        assert_eq!(shape(&fresh), shape(&again));
    })
    .await;
}

#[tokio::test]
async fn a_wrong_code_creates_no_tenant() {
    for_each_backend_with("open", |app: TestApp, _| async move {
        let email = app.unique_email();
        let started: Value = signup(&app, &email, "Wrong").await.json().await.unwrap();
        let code = app.code_sent_to(&email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let verified = verify(&app, &started, wrong).await;
        let (status, problem) = code_of(verified).await;
        assert_eq!((status, problem.as_str()), (400, "wrong_code"));
        assert!(!tenant_names(&app).await.contains(&"Wrong".to_owned()));
    })
    .await;
}

#[tokio::test]
async fn off_refuses_every_step_and_bad_project_names_are_400() {
    for_each_backend_with("off", |app: TestApp, console_key| async move {
        let refused = signup(&app, &app.unique_email(), "Acme").await;
        assert_eq!(code_of(refused).await, (403, "signup_disabled".to_owned()));
        let verified = verify(&app, &json!({"challenge_id": "c"}), "123456").await;
        assert_eq!(code_of(verified).await, (403, "signup_disabled".to_owned()));
        let (token, _) = app.console_sign_in(&console_key, &app.unique_email()).await;
        let create = create_tenant(&app, &token, "Acme").await;
        assert_eq!(code_of(create).await, (403, "signup_disabled".to_owned()));
    })
    .await;
    for_each_backend_with("open", |app: TestApp, _| async move {
        for name in ["", "   ", &"x".repeat(101)] {
            let refused = signup(&app, &app.unique_email(), name).await;
            assert_eq!(code_of(refused).await.0, 400, "{name:?}");
        }
        let console = signed_up(&app, "Fine").await;
        let token = console["access_token"].as_str().unwrap();
        let refused = create_tenant(&app, token, " ").await;
        assert_eq!(code_of(refused).await.0, 400);
    })
    .await;
}

#[tokio::test]
async fn the_operator_invites_lists_and_revokes_sign_up_invitations() {
    for_each_backend_with("invite_only", |app, _| async move {
        let email = app.unique_email();
        let invited = app
            .admin(Method::POST, "/admin/v1/signup/invitations")
            .json(&json!({"email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(invited.status(), 202, "{}", text(invited).await);
        let invited: Value = invited.json().await.unwrap();
        let letter = app.newest_message_to(&email).await;
        assert!(
            letter.contains("sign up"),
            "the email asks to sign up: {letter}"
        );

        let listed: Value = app
            .admin(Method::GET, "/admin/v1/signup/invitations")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"][0]["id"], invited["id"], "{listed}");
        assert!(!listed.to_string().contains(&email), "{listed}");

        let path = format!(
            "/admin/v1/signup/invitations/{}",
            invited["id"].as_str().unwrap()
        );
        let revoked = app.admin(Method::DELETE, &path).send().await.unwrap();
        assert_eq!(revoked.status(), 204, "{}", text(revoked).await);
        let again = app.admin(Method::DELETE, &path).send().await.unwrap();
        assert_eq!(
            code_of(again).await,
            (404, "invitation_not_found".to_owned())
        );
        let unauthenticated = app
            .http
            .get(app.url("/admin/v1/signup/invitations"))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), 401);
    })
    .await;
}
