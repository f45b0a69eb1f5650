//! Cognito against the emulator: the real trigger binaries under the emulated Lambda
//! Runtime API with DynamoDB, SES and SNS in moto, and the sign-up route against moto's
//! Cognito user pools.

use std::collections::HashMap;
use std::sync::Arc;

use authkit_tests::cognito_driver::{Binaries, CognitoDriver, Step};
use authkit_tests::lambda_runtime_api::{binary_path, LambdaFunction};
use authkit_tests::{emulator_endpoint, Backend, TestApp};

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

    let nobody = app.unique_email();
    let (_, decoy) = driver.initiate_auth(&nobody, none(), none()).await;
    assert!(
        matches!(&decoy, Step::Challenge(p) if p["destination"].ends_with("@example.com")),
        "an unknown user gets a decoy challenge from the real binaries: {decoy:?}"
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
