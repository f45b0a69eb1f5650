//! Cognito CUSTOM_AUTH end to end through a driver that plays Cognito: in process over the
//! embedded store (with a hand-moved clock), and with the real trigger binaries against
//! DynamoDB and SES/SNS in the emulator.

use std::collections::HashMap;
use std::sync::Arc;

use authkit_cognito::Triggers;
use authkit_delivery::Outbox;
use authkit_domain::memory::MemoryStore;
use authkit_domain::service::{NewTenant, ServiceSettings, StaticKeys};
use authkit_domain::tenant::{TenantId, TenantPolicy};
use authkit_domain::token::KeyMaterial;
use authkit_domain::{AuthKit, ManualClock, OsRandomness};
use authkit_tests::cognito_driver::{Binaries, CognitoDriver, InProcess, Step};
use authkit_tests::lambda_runtime_api::{binary_path, LambdaFunction};
use authkit_tests::{emulator_endpoint, Backend, TestApp, REDIRECT_URI};

struct Pool {
    driver: CognitoDriver<InProcess>,
    outbox: Arc<Outbox>,
    clock: Arc<ManualClock>,
    triggers: Arc<Triggers>,
}

async fn pool() -> Pool {
    let clock = Arc::new(ManualClock::at(1_800_000_000));
    let outbox = Arc::new(Outbox::new(100, true));
    let authkit = Arc::new(AuthKit::new(
        MemoryStore::with_clock(clock.clone()).into_stores(),
        outbox.clone(),
        Arc::new(StaticKeys(Arc::new(KeyMaterial::generate(&OsRandomness)))),
        clock.clone(),
        Arc::new(OsRandomness),
        ServiceSettings::new("https://auth.example.com", "https://auth.example.com"),
    ));
    let tenant = authkit
        .create_tenant(NewTenant {
            id: TenantId::parse("cognito-app").unwrap(),
            name: "Cognito App".into(),
            allowed_redirect_uris: vec![REDIRECT_URI.into()],
            policy: TenantPolicy::default(),
        })
        .await
        .unwrap()
        .tenant;
    let triggers = Arc::new(Triggers {
        authkit,
        tenant,
        directory: None,
    });
    Pool {
        driver: CognitoDriver {
            runner: InProcess {
                triggers: triggers.clone(),
                max_rounds: 3,
            },
            user_pool_id: "us-east-1_AuthKit".into(),
        },
        outbox,
        clock,
        triggers,
    }
}

fn email_user() -> HashMap<String, String> {
    HashMap::from([
        ("sub".into(), "0f1e".into()),
        ("email".into(), "jane@example.com".into()),
        ("email_verified".into(), "true".into()),
    ])
}

fn phone_user() -> HashMap<String, String> {
    HashMap::from([
        ("sub".into(), "9a8b".into()),
        ("phone_number".into(), "+14155552671".into()),
        ("phone_number_verified".into(), "true".into()),
    ])
}

fn none() -> HashMap<String, String> {
    HashMap::new()
}

impl Pool {
    fn last_text(&self) -> String {
        self.outbox
            .messages(None)
            .last()
            .expect("a message was sent")
            .text
            .clone()
    }

    fn last_code(&self) -> String {
        let text = self.last_text();
        text.split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .expect("a code")
            .to_owned()
    }

    fn sent(&self) -> usize {
        self.outbox.messages(None).len()
    }
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

#[tokio::test]
async fn a_code_by_email_signs_in_through_cognito() {
    let pool = pool().await;
    let (mut session, step) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let Step::Challenge(public) = step else {
        panic!("expected a challenge, got {step:?}")
    };
    assert_eq!(public["channel"], "email");
    assert_eq!(public["destination"], "j***@example.com");
    assert!(
        !format!("{public:?}").contains(&pool.last_code()),
        "the code leaked into public parameters"
    );
    let private = CognitoDriver::<InProcess>::private_parameters(&session).to_string();
    assert!(
        !private.contains(&pool.last_code()),
        "the code leaked into private parameters"
    );
    let step = pool
        .driver
        .respond(&mut session, &pool.last_code(), none())
        .await;
    assert!(matches!(step, Step::Tokens(_)), "{step:?}");
}

#[tokio::test]
async fn a_code_by_sms_is_a_first_factor() {
    let pool = pool().await;
    let metadata = HashMap::from([("channel".to_owned(), "sms".to_owned())]);
    let (mut session, step) = pool
        .driver
        .initiate_auth("+14155552671", phone_user(), metadata)
        .await;
    assert!(
        matches!(&step, Step::Challenge(p) if p["channel"] == "sms"),
        "{step:?}"
    );
    assert_eq!(
        pool.outbox.messages(None).last().unwrap().to,
        "+14155552671"
    );
    assert!(matches!(
        pool.driver
            .respond(&mut session, &pool.last_code(), none())
            .await,
        Step::Tokens(_)
    ));
}

#[tokio::test]
async fn a_magic_link_signs_in_through_cognito() {
    let pool = pool().await;
    let metadata = HashMap::from([
        ("kind".to_owned(), "magic_link".to_owned()),
        ("redirectUri".to_owned(), REDIRECT_URI.to_owned()),
    ]);
    let (mut session, step) = pool
        .driver
        .initiate_auth("jane", email_user(), metadata)
        .await;
    assert!(
        matches!(&step, Step::Challenge(p) if p["kind"] == "magic_link"),
        "{step:?}"
    );
    let text = pool.last_text();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("a link");
    let query: HashMap<String, String> = url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let confirmed = pool
        .triggers
        .authkit
        .confirm_magic_link(
            &pool.triggers.tenant,
            None,
            &query["challenge_id"],
            &query["token"],
        )
        .await
        .unwrap();
    let result = url::Url::parse(&confirmed.redirect_to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "authkit_result")
        .unwrap()
        .1
        .into_owned();
    assert!(matches!(
        pool.driver.respond(&mut session, &result, none()).await,
        Step::Tokens(_)
    ));
}

#[tokio::test]
async fn a_wrong_code_then_the_right_one_signs_in_without_a_second_message() {
    let pool = pool().await;
    let (mut session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let code = pool.last_code();
    let step = pool
        .driver
        .respond(&mut session, wrong(&code), none())
        .await;
    assert!(matches!(step, Step::Challenge(_)), "{step:?}");
    assert_eq!(pool.sent(), 1, "a later round reuses the live challenge");
    assert!(matches!(
        pool.driver.respond(&mut session, &code, none()).await,
        Step::Tokens(_)
    ));
}

#[tokio::test]
async fn three_wrong_answers_fail_the_sign_in() {
    let pool = pool().await;
    let (mut session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let code = pool.last_code();
    assert!(matches!(
        pool.driver
            .respond(&mut session, wrong(&code), none())
            .await,
        Step::Challenge(_)
    ));
    assert!(matches!(
        pool.driver
            .respond(&mut session, wrong(&code), none())
            .await,
        Step::Challenge(_)
    ));
    assert_eq!(
        pool.driver
            .respond(&mut session, wrong(&code), none())
            .await,
        Step::Failed
    );
}

#[tokio::test]
async fn an_expired_code_mid_session_is_replaced_by_a_fresh_one() {
    let pool = pool().await;
    let (mut session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let first = pool.last_code();
    pool.clock.advance(601);
    let step = pool.driver.respond(&mut session, &first, none()).await;
    assert!(
        matches!(step, Step::Challenge(_)),
        "an expired code must not sign in: {step:?}"
    );
    assert_eq!(pool.sent(), 2, "the next round sends a fresh code");
    assert!(matches!(
        pool.driver
            .respond(&mut session, &pool.last_code(), none())
            .await,
        Step::Tokens(_)
    ));
}

#[tokio::test]
async fn client_metadata_asks_for_a_resend_within_the_cooldown_rules() {
    let pool = pool().await;
    let resend = HashMap::from([("resend".to_owned(), "true".to_owned())]);
    let (mut early, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let too_soon = pool.driver.respond(&mut early, "", resend.clone()).await;
    assert!(
        matches!(too_soon, Step::TriggerFailed(_)),
        "a resend inside the cooldown must fail the round: {too_soon:?}"
    );

    let (mut session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let replaced = pool.last_code();
    pool.clock.advance(30);
    let step = pool.driver.respond(&mut session, "", resend).await;
    assert!(matches!(step, Step::Challenge(_)), "{step:?}");
    let fresh = pool.last_code();
    let sent = pool.sent();
    if replaced != fresh {
        let old = pool.driver.respond(&mut session, &replaced, none()).await;
        assert!(
            matches!(old, Step::Challenge(_)),
            "the replaced code must not sign in: {old:?}"
        );
    }
    assert!(matches!(
        pool.driver.respond(&mut session, &fresh, none()).await,
        Step::Tokens(_)
    ));
    assert_eq!(pool.sent(), sent, "answering sends nothing more");
}

#[tokio::test]
async fn an_unknown_user_fails_without_any_message() {
    let pool = pool().await;
    let (_, step) = pool.driver.initiate_auth("nobody", none(), none()).await;
    assert_eq!(step, Step::Failed);
    assert_eq!(pool.sent(), 0);
}

#[tokio::test]
async fn twenty_concurrent_answers_count_no_more_than_the_limit() {
    let pool = pool().await;
    let (session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let challenge_id = CognitoDriver::<InProcess>::private_parameters(&session)["challenge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = pool.last_code();
    let verify = |answer: String| {
        let triggers = pool.triggers.clone();
        let challenge_id = challenge_id.clone();
        async move {
            let mut event: serde_json::Value = serde_json::from_str(include_str!("../../crates/cognito/tests/fixtures/example-cognito-event-userpools-verify-auth-challenge.json")).unwrap();
            event["request"]["privateChallengeParameters"] =
                serde_json::json!({"challenge_id": challenge_id});
            event["request"]["challengeAnswer"] = serde_json::json!(answer);
            event["response"] = serde_json::json!({});
            authkit_cognito::verify_auth_challenge(
                &triggers,
                serde_json::from_value(event).unwrap(),
            )
            .await
            .unwrap()
            .response
            .answer_correct
        }
    };
    let mut answers: Vec<String> = vec![wrong(&code).to_owned(); 19];
    answers.insert(10, code.clone());
    let handles: Vec<_> = answers
        .into_iter()
        .map(|a| tokio::spawn(verify(a)))
        .collect();
    let mut correct = 0;
    for handle in handles {
        correct += usize::from(handle.await.unwrap());
    }
    let stored = pool
        .triggers
        .authkit
        .live_challenge(
            authkit_domain::service::Caller {
                tenant: &pool.triggers.tenant,
                ip: None,
            },
            &challenge_id,
        )
        .await;
    assert!(correct <= 1, "{correct} answers were accepted");
    assert!(
        stored.is_err(),
        "after 20 answers the challenge must be closed (verified or exhausted)"
    );
}

#[tokio::test]
async fn the_trigger_binaries_sign_in_by_email_code_against_the_emulator() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let app = TestApp::spawn(Backend::Emulator).await;
    let cognito = cognito_client(&endpoint).await;
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("authkit-{}", app.tenant))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let email = app.unique_email();
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username(&email)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("email")
                .value(&email)
                .build()
                .unwrap(),
        )
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let mut env = app.env.clone();
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        env.push((name.into(), value.into()));
    }
    env.push(("AUTHKIT_COGNITO_TENANT".into(), app.tenant.clone()));
    let runner = Binaries {
        define: LambdaFunction::start(&binary_path("authkit-define-auth-challenge"), &env).await,
        create: LambdaFunction::start(&binary_path("authkit-create-auth-challenge"), &env).await,
        verify: LambdaFunction::start(&binary_path("authkit-verify-auth-challenge"), &env).await,
    };
    eprintln!(
        "trigger cold starts (debug build): define {:?}, create {:?}, verify {:?}",
        runner.define.cold_start, runner.create.cold_start, runner.verify.cold_start
    );
    let driver = CognitoDriver {
        runner,
        user_pool_id: pool.clone(),
    };
    let attributes = HashMap::from([
        ("sub".to_owned(), "1234".to_owned()),
        ("email".to_owned(), email.clone()),
    ]);
    let (mut session, step) = driver.initiate_auth(&email, attributes, none()).await;
    assert!(matches!(step, Step::Challenge(_)), "{step:?}");
    let code = app.code_sent_to(&email).await;
    assert!(matches!(
        driver.respond(&mut session, wrong(&code), none()).await,
        Step::Challenge(_)
    ));
    let last = driver.respond(&mut session, &code, none()).await;
    assert!(matches!(last, Step::Tokens(_)), "{last:?}");
    let user = cognito
        .admin_get_user()
        .user_pool_id(&pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    let verified = user
        .user_attributes()
        .iter()
        .any(|a| a.name() == "email_verified" && a.value() == Some("true"));
    assert!(
        verified,
        "the verify trigger marks the proven address verified"
    );
}

async fn cognito_client(endpoint: &str) -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::new(&authkit_tests::emulator_sdk(endpoint).await)
}

#[tokio::test]
async fn sign_up_creates_a_confirmed_passwordless_user_once_and_says_nothing_more() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let app = TestApp::spawn(Backend::Emulator).await;
    let cognito = cognito_client(&endpoint).await;
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("authkit-{}", app.tenant))
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();

    let config = authkit_app::Config::from_lookup(|name| {
        app.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let authkit = authkit_app::App::build(config).await.unwrap().authkit;
    let directory = Arc::new(authkit_cognito::CognitoDirectory::new(cognito.clone()));
    let router = authkit_cognito::sign_up_routes(authkit, directory.clone(), &pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/cognito/users", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let email = app.unique_email();
    for _ in 0..2 {
        let response = app
            .http
            .post(&url)
            .header("x-api-key", &app.publishable_key)
            .json(&serde_json::json!({"identifier": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            202,
            "the same answer whether or not the user existed"
        );
        assert_eq!(response.content_length(), Some(0));
    }
    let user = cognito
        .admin_get_user()
        .user_pool_id(&pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status().map(|s| s.as_str()), Some("CONFIRMED"));
    let verified =
        |user: &aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserOutput| {
            user.user_attributes()
                .iter()
                .any(|a| a.name() == "email_verified" && a.value() == Some("true"))
        };
    assert!(
        !verified(&user),
        "no contact is verified before a code proves it"
    );

    use authkit_cognito::UserDirectory;
    let identifier = authkit_domain::identifier::Identifier::parse(&email, None).unwrap();
    directory
        .mark_verified(&pool, &email, &identifier)
        .await
        .unwrap();
    let user = cognito
        .admin_get_user()
        .user_pool_id(&pool)
        .username(&email)
        .send()
        .await
        .unwrap();
    assert!(verified(&user));

    let bad = app
        .http
        .post(&url)
        .header("x-api-key", &app.publishable_key)
        .json(&serde_json::json!({"identifier": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let keyless = app
        .http
        .post(&url)
        .json(&serde_json::json!({"identifier": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), 401);
}
