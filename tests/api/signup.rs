//! Self-service sign-up over HTTP: the address proved by a console code, the tenant made
//! with its owner and its keys, the operator's `off`, and wrong codes that create nothing.

use authkit_tests::operator::{code_of, text};
use authkit_tests::{emulator_endpoint, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Runs `test` against an app with `AUTHKIT_SIGNUP=mode` (and its console tenant) on
/// every backend available.
async fn for_each_backend_with<F, Fut>(mode: &str, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut backends = vec![Backend::Embedded];
    if emulator_endpoint().is_some() {
        backends.push(Backend::Emulator);
    }
    for backend in backends {
        let app = TestApp::spawn_with(backend, &[("AUTHKIT_SIGNUP", mode)]).await;
        app.bootstrap_console().await;
        test(app).await;
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

#[tokio::test]
async fn sign_up_creates_a_tenant_whose_keys_and_owner_work() {
    for_each_backend_with("open", |app: TestApp| async move {
        let email = app.unique_email();
        let started = signup(&app, &email, "Acme Shop").await;
        assert_eq!(started.status(), 200, "{}", text(started).await);
        let started: Value = started.json().await.unwrap();
        let code = app.code_sent_to(&email).await;
        let verified = app
            .post(
                "/v1/signup/verify",
                None,
                json!({"challenge_id": started["challenge_id"], "code": code, "project_name": "Acme Shop"}),
            )
            .await;
        assert_eq!(verified.status(), 201, "{}", text(verified).await);
        let body: Value = verified.json().await.unwrap();
        let tenant = body["tenant"]["id"].as_str().unwrap().to_owned();
        assert!(tenant.starts_with("acme-shop"), "{body}");
        let secret = body["tenant"]["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["kind"] == "secret")
            .and_then(|key| key["secret"].as_str())
            .unwrap_or_else(|| panic!("the secret key, shown once: {body}"))
            .to_owned();
        let read = app
            .tenant_api(Method::GET, "/v1/tenant", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "{}", text(read).await);
        let read: Value = read.json().await.unwrap();
        assert_eq!(read["id"], tenant.as_str());
        assert_eq!(read["name"], "Acme Shop");

        let token = body["console"]["access_token"].as_str().unwrap();
        let mine: Value = app
            .http
            .get(app.url("/v1/memberships"))
            .bearer_auth(token)
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

        // A second sign-up by the same address within the limits is another start.
        let again = signup(&app, &email, "Acme Shop").await;
        assert_eq!(again.status(), 200, "{}", text(again).await);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_code_creates_no_tenant() {
    for_each_backend_with("open", |app: TestApp| async move {
        let email = app.unique_email();
        let started: Value = signup(&app, &email, "Wrong").await.json().await.unwrap();
        let code = app.code_sent_to(&email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let verified = app
            .post(
                "/v1/signup/verify",
                None,
                json!({"challenge_id": started["challenge_id"], "code": wrong, "project_name": "Wrong"}),
            )
            .await;
        let (status, problem) = code_of(verified).await;
        assert_eq!((status, problem.as_str()), (400, "wrong_code"));
        let listed: Value = app
            .admin(Method::GET, "/admin/v1/tenants?limit=100")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let made = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Wrong");
        assert!(!made, "no tenant: {listed}");
    })
    .await;
}

#[tokio::test]
async fn off_refuses_and_bad_project_names_are_400() {
    for_each_backend_with("off", |app: TestApp| async move {
        let refused = signup(&app, &app.unique_email(), "Acme").await;
        assert_eq!(code_of(refused).await, (403, "signup_disabled".to_owned()));
    })
    .await;
    for_each_backend_with("open", |app: TestApp| async move {
        for name in ["", "   ", &"x".repeat(101)] {
            let refused = signup(&app, &app.unique_email(), name).await;
            assert_eq!(code_of(refused).await.0, 400, "{name:?}");
        }
    })
    .await;
}
