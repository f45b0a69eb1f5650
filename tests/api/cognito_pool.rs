//! Cognito against the emulator: a user pool in moto shaped like the stack's (email and
//! phone number as usernames), AuthKit's Cognito routes over HTTP, and the real trigger
//! binaries under the emulated Lambda Runtime API with DynamoDB, SES and SNS in moto.
//!
//! moto does not run CUSTOM_AUTH triggers, so a test that needs a Cognito access token sets
//! a password of its own on the user and signs in with it (`access_token`); the sign-in
//! flows themselves go through the driver.

use std::collections::HashMap;
use std::sync::Arc;

use authkit_domain::service::NewTenant;
use authkit_domain::tenant::{TenantId, TenantPolicy};
use authkit_tests::cognito_driver::{Binaries, CognitoDriver, Step};
use authkit_tests::{emulator_endpoint, Backend, TestApp};
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, UsernameAttributeType,
};
use aws_sdk_cognitoidentityprovider::Client;
use serde_json::{json, Value};

fn none() -> HashMap<String, String> {
    HashMap::new()
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// An app on the emulator, a pool and app client in moto, the tenant the pool serves (its
/// own, so a test can give it a policy) and AuthKit's Cognito routes on a random port.
struct PoolHarness {
    app: TestApp,
    authkit: Arc<authkit_domain::AuthKit>,
    tenant: String,
    publishable_key: String,
    secret_key: String,
    cognito: Client,
    pool: String,
    client_id: String,
    routes: String,
}

impl PoolHarness {
    async fn spawn(endpoint: &str) -> PoolHarness {
        PoolHarness::with_policy(endpoint, TenantPolicy::default()).await
    }

    async fn with_policy(endpoint: &str, policy: TenantPolicy) -> PoolHarness {
        let app = TestApp::spawn(Backend::Emulator).await;
        let cognito = Client::new(&authkit_tests::emulator_sdk(endpoint).await);
        let pool = cognito
            .create_user_pool()
            .pool_name(format!("authkit-{}", app.tenant))
            .username_attributes(UsernameAttributeType::Email)
            .username_attributes(UsernameAttributeType::PhoneNumber)
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap()
            .id
            .unwrap();
        let client_id = cognito
            .create_user_pool_client()
            .user_pool_id(&pool)
            .client_name("test")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap()
            .client_id
            .unwrap();

        let config = authkit_app::Config::from_lookup(|name| {
            app.env
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        let authkit = authkit_app::App::build(config).await.unwrap().authkit;
        let tenant = TenantId::parse(&format!("{}-pool", app.tenant)).unwrap();
        let created = authkit
            .create_tenant(NewTenant {
                id: tenant.clone(),
                name: "Cognito app".into(),
                allowed_redirect_uris: vec![authkit_tests::REDIRECT_URI.into()],
                policy,
            })
            .await
            .unwrap();
        let directory = Arc::new(authkit_cognito::CognitoDirectory::new(cognito.clone()));
        let served = authkit_cognito::ServedPool {
            user_pool_id: pool.clone(),
            tenant: tenant.clone(),
        };
        let router = authkit_cognito::cognito_routes(authkit.clone(), directory, served);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let routes = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, service).await.unwrap()
        });
        PoolHarness {
            app,
            authkit,
            tenant: tenant.to_string(),
            publishable_key: created.publishable_key.reveal(),
            secret_key: created.secret_key.reveal(),
            cognito,
            pool,
            client_id,
            routes,
        }
    }

    /// What the trigger functions get: the app's configuration, test credentials and the
    /// tenant Cognito sign-ins use.
    fn trigger_env(&self) -> Vec<(String, String)> {
        let mut env = self.app.env.clone();
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            env.push((name.into(), value.into()));
        }
        env.push(("AUTHKIT_COGNITO_TENANT".into(), self.tenant.clone()));
        env
    }

    async fn post(
        &self,
        path: &str,
        key: &str,
        token: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut request = self
            .app
            .http
            .post(format!("{}{path}", self.routes))
            .header("x-api-key", key)
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Signs `identifier` up through AuthKit's route, as the app's server does.
    async fn sign_up(&self, identifier: &str) {
        let response = self
            .post(
                "/v1/cognito/users",
                &self.secret_key,
                None,
                json!({"identifier": identifier}),
            )
            .await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    }

    /// The user's username (a UUID: the pool signs in by email and phone number) and
    /// attributes, as Cognito hands them to the triggers.
    async fn user(&self, identifier: &str) -> (String, HashMap<String, String>) {
        let user = self
            .cognito
            .admin_get_user()
            .user_pool_id(&self.pool)
            .username(identifier)
            .send()
            .await
            .unwrap();
        let attributes = user
            .user_attributes()
            .iter()
            .map(|a| {
                (
                    a.name().to_owned(),
                    a.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        (user.username().to_owned(), attributes)
    }

    async fn verify_contact(
        &self,
        token: &str,
        challenge_id: &str,
        code: &str,
    ) -> reqwest::Response {
        self.post(
            "/v1/cognito/contacts/verify",
            &self.publishable_key,
            Some(token),
            json!({"challenge_id": challenge_id, "code": code}),
        )
        .await
    }

    /// A Cognito access token for the user (see the module docs for why a password).
    async fn access_token(&self, identifier: &str) -> String {
        let password = "Test-only-password-1!Test-only-password-1!Test-only-password-1!xx";
        self.cognito
            .admin_set_user_password()
            .user_pool_id(&self.pool)
            .username(identifier)
            .password(password)
            .permanent(true)
            .send()
            .await
            .unwrap();
        self.cognito
            .admin_initiate_auth()
            .user_pool_id(&self.pool)
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", identifier)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .unwrap()
            .authentication_result
            .unwrap()
            .access_token
            .unwrap()
    }
}

#[tokio::test]
async fn the_trigger_binaries_sign_in_by_email_code_against_the_emulator() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let harness = PoolHarness::spawn(&endpoint).await;
    let email = harness.app.unique_email();
    harness.sign_up(&email).await;
    let runner = Binaries::start(&harness.trigger_env()).await;
    eprintln!(
        "trigger cold starts (debug build): define {:?}, create {:?}, verify {:?}",
        runner.define.cold_start, runner.create.cold_start, runner.verify.cold_start
    );
    let driver = CognitoDriver {
        runner,
        user_pool_id: harness.pool.clone(),
    };
    let (username, attributes) = harness.user(&email).await;
    let (mut session, step) = driver.initiate_auth(&username, attributes, none()).await;
    assert!(matches!(step, Step::Challenge(_)), "{step:?}");
    let code = harness.app.code_sent_to(&email).await;
    assert!(matches!(
        driver.respond(&mut session, wrong(&code), none()).await,
        Step::Challenge(_)
    ));
    let last = driver.respond(&mut session, &code, none()).await;
    assert!(matches!(last, Step::Tokens(_)), "{last:?}");
    let (_, attributes) = harness.user(&email).await;
    assert_eq!(
        attributes.get("email_verified").map(String::as_str),
        Some("true"),
        "the verify trigger marks the proven address verified"
    );

    let nobody = harness.app.unique_email();
    let (_, decoy) = driver.initiate_auth(&nobody, none(), none()).await;
    assert!(
        matches!(&decoy, Step::Challenge(p) if p["destination"].ends_with("@example.com")),
        "an unknown user gets a decoy challenge from the real binaries: {decoy:?}"
    );

    let attacker_phone = harness.app.unique_phone();
    let public = driver
        .pre_sign_up(
            "PreSignUp_SignUp",
            &nobody,
            HashMap::from([
                ("email".to_owned(), nobody.clone()),
                ("phone_number".to_owned(), attacker_phone),
            ]),
        )
        .await;
    assert!(
        public.is_err(),
        "the PreSignUp binary let a public sign-up through: {public:?}"
    );
    let admin = driver
        .pre_sign_up(
            "PreSignUp_AdminCreateUser",
            &nobody,
            HashMap::from([("email".to_owned(), nobody.clone())]),
        )
        .await;
    assert!(admin.is_ok(), "{admin:?}");
}

#[tokio::test]
async fn sign_up_creates_a_confirmed_passwordless_user_once_and_says_nothing_more() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let harness = PoolHarness::spawn(&endpoint).await;
    let email = harness.app.unique_email();
    for _ in 0..2 {
        let response = harness
            .post(
                "/v1/cognito/users",
                &harness.secret_key,
                None,
                json!({"identifier": email}),
            )
            .await;
        assert_eq!(
            response.status(),
            202,
            "the same answer whether or not the user existed"
        );
        assert_eq!(response.content_length(), Some(0));
    }
    let user = harness
        .cognito
        .admin_get_user()
        .user_pool_id(&harness.pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status().map(|s| s.as_str()), Some("CONFIRMED"));
    let (_, attributes) = harness.user(&email).await;
    assert_eq!(
        attributes.get("email").map(String::as_str),
        Some(email.as_str())
    );
    assert_ne!(
        attributes.get("email_verified").map(String::as_str),
        Some("true"),
        "no contact is verified before a code proves it"
    );

    let bad = harness
        .post(
            "/v1/cognito/users",
            &harness.secret_key,
            None,
            json!({"identifier": "nope"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let keyless = harness
        .app
        .http
        .post(format!("{}/v1/cognito/users", harness.routes))
        .json(&json!({"identifier": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), 401);

    let other_tenant = harness
        .authkit
        .create_tenant(NewTenant {
            id: TenantId::parse(&format!("{}-b", harness.app.tenant)).unwrap(),
            name: "Another app".into(),
            allowed_redirect_uris: vec![],
            policy: Default::default(),
        })
        .await
        .unwrap();
    let elsewhere = harness
        .post(
            "/v1/cognito/users",
            &other_tenant.secret_key.reveal(),
            None,
            json!({"identifier": harness.app.unique_email()}),
        )
        .await;
    assert_eq!(
        elsewhere.status(),
        403,
        "another tenant's key must not create users in this pool"
    );
}

#[tokio::test]
async fn a_second_contact_is_added_only_by_proving_it_with_a_code_while_signed_in() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let harness = PoolHarness::spawn(&endpoint).await;
    let app = &harness.app;
    let key = harness.publishable_key.as_str();
    let email = app.unique_email();
    harness.sign_up(&email).await;
    let token = harness.access_token(&email).await;
    let phone = app.unique_phone();
    let add = json!({"identifier": phone});

    for (token, why) in [
        (None, "no access token"),
        (Some("not-a-token"), "a made-up token"),
    ] {
        let refused = harness
            .post("/v1/cognito/contacts", key, token, add.clone())
            .await;
        assert_eq!(refused.status(), 401, "{why}");
    }
    let started = harness
        .post("/v1/cognito/contacts", key, Some(&token), add)
        .await;
    assert_eq!(started.status(), 200, "{}", started.text().await.unwrap());
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["channel"], "sms");
    let challenge_id = started["challenge_id"].as_str().unwrap().to_owned();
    let code = app.code_sent_to(&phone).await;

    // The code proves the contact for this user only, and signs nobody in.
    let sign_in = app
        .post(
            "/v1/auth/verify",
            Some(key),
            json!({"challenge_id": challenge_id, "code": code}),
        )
        .await;
    assert_eq!(sign_in.status(), 404, "a contact proof must not sign in");
    let other = app.unique_email();
    harness.sign_up(&other).await;
    let others_token = harness.access_token(&other).await;
    let stolen = harness
        .verify_contact(&others_token, &challenge_id, &code)
        .await;
    assert_eq!(stolen.status(), 404, "another user cannot use the proof");
    let wrong_code = harness
        .verify_contact(&token, &challenge_id, wrong(&code))
        .await;
    assert_eq!(wrong_code.status(), 400);
    let proven = harness.verify_contact(&token, &challenge_id, &code).await;
    assert_eq!(proven.status(), 204, "{}", proven.text().await.unwrap());
    let (username, attributes) = harness.user(&email).await;
    assert_eq!(attributes.get("phone_number"), Some(&phone));
    assert_eq!(
        attributes.get("phone_number_verified").map(String::as_str),
        Some("true")
    );
    let again = harness.verify_contact(&token, &challenge_id, &code).await;
    assert_eq!(again.status(), 409, "a proof is used once");

    // Now a sign-in may go to the phone.
    let driver = CognitoDriver {
        runner: Binaries::start(&harness.trigger_env()).await,
        user_pool_id: harness.pool.clone(),
    };
    let sms = HashMap::from([("channel".to_owned(), "sms".to_owned())]);
    let (mut session, step) = driver.initiate_auth(&username, attributes, sms).await;
    assert!(
        matches!(&step, Step::Challenge(p) if p["channel"] == "sms"),
        "{step:?}"
    );
    let code = app.code_sent_to(&phone).await;
    let signed_in = driver.respond(&mut session, &code, none()).await;
    assert!(matches!(signed_in, Step::Tokens(_)), "{signed_in:?}");
}

#[tokio::test]
async fn sign_up_needs_the_secret_key_and_is_rate_limited_per_ip() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let policy: TenantPolicy = serde_json::from_value(json!({
        "rate_limits": {"sign_up": [{"scope": "ip", "max": 2, "window_secs": 600}]}
    }))
    .unwrap();
    let harness = PoolHarness::with_policy(&endpoint, policy).await;
    let sign_up = |key: String| {
        let harness = &harness;
        async move {
            harness
                .post(
                    "/v1/cognito/users",
                    &key,
                    None,
                    json!({"identifier": harness.app.unique_email()}),
                )
                .await
        }
    };

    // Servers create users; a publishable key ships in every copy of the app.
    let from_browser = sign_up(harness.publishable_key.clone()).await;
    assert_eq!(from_browser.status(), 403);
    let problem: Value = from_browser.json().await.unwrap();
    assert_eq!(problem["code"], "secret_key_required");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("publishable")),
        "the problem says why a publishable key is not enough: {problem}"
    );

    for _ in 0..2 {
        assert_eq!(sign_up(harness.secret_key.clone()).await.status(), 202);
    }
    let limited = sign_up(harness.secret_key.clone()).await;
    assert_eq!(limited.status(), 429);
    let problem: Value = limited.json().await.unwrap();
    assert_eq!(problem["scope"], "ip");
}
