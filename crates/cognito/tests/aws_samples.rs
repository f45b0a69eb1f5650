//! AWS's own example events (copied from aws_lambda_events' fixtures) through each trigger.

use std::sync::Arc;

use authkit_cognito::{
    create_auth_challenge, define_auth_challenge, pre_sign_up, verify_auth_challenge, TriggerError,
    Triggers,
};
use authkit_domain::delivery::{DeliveryError, DeliveryReceipt, OutgoingMessage, Sender};
use authkit_domain::memory::MemoryStore;
use authkit_domain::service::{NewTenant, ServiceSettings, StaticKeys};
use authkit_domain::tenant::{TenantId, TenantPolicy};
use authkit_domain::token::KeyMaterial;
use authkit_domain::{AuthKit, OsRandomness, SystemClock};

fn sample<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!(
        "{}/tests/fixtures/example-cognito-event-userpools-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists"))
        .expect("AWS's sample parses into the typed event")
}

struct Counting(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl Sender for Counting {
    async fn send(&self, _: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(DeliveryReceipt {
            provider_message_id: "m".into(),
        })
    }
}

async fn triggers() -> (Triggers, Arc<Counting>) {
    let sender = Arc::new(Counting(0.into()));
    let authkit = Arc::new(AuthKit::new(
        MemoryStore::new().into_stores(),
        sender.clone(),
        Arc::new(StaticKeys(Arc::new(KeyMaterial::generate(&OsRandomness)))),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceSettings::new("https://auth.example.com", "https://auth.example.com"),
    ));
    let tenant = authkit
        .create_tenant(NewTenant {
            id: TenantId::parse("samples").unwrap(),
            name: "Samples".into(),
            allowed_redirect_uris: vec![],
            policy: TenantPolicy::default(),
        })
        .await
        .unwrap()
        .tenant;
    (
        Triggers {
            authkit,
            tenant,
            directory: None,
        },
        sender,
    )
}

#[test]
fn define_fails_the_aws_sample_whose_session_holds_a_password_step() {
    let decided = define_auth_challenge(3, sample("define-auth-challenge"));
    assert!(decided.response.fail_authentication && !decided.response.issue_tokens);
    let optional =
        define_auth_challenge(3, sample("define-auth-challenge-optional-response-fields"));
    assert!(!optional.response.issue_tokens);
}

#[test]
fn define_treats_an_unknown_user_like_a_known_one_but_never_issues_tokens() {
    let decided = define_auth_challenge(3, sample("define-auth-challenge-user-not-found"));
    assert!(
        decided.response.fail_authentication && !decided.response.issue_tokens,
        "the sample's session holds a password step"
    );
    let mut fresh: aws_lambda_events::event::cognito::CognitoEventUserPoolsDefineAuthChallenge =
        sample("define-auth-challenge-user-not-found");
    fresh.request.session.clear();
    let decided = define_auth_challenge(3, fresh);
    assert_eq!(
        decided.response.challenge_name.as_deref(),
        Some("CUSTOM_CHALLENGE")
    );
    assert!(!decided.response.fail_authentication && !decided.response.issue_tokens);
}

#[tokio::test]
async fn create_sends_a_code_to_the_users_phone_and_keeps_only_its_id_private() {
    let (triggers, sender) = triggers().await;
    // AWS's sample number (+1 222…) is not a valid number: the round fails cleanly.
    let invalid = create_auth_challenge(&triggers, sample("create-auth-challenge")).await;
    assert!(
        invalid.is_err(),
        "an unreachable phone number must fail the round"
    );
    assert_eq!(sender.0.load(std::sync::atomic::Ordering::SeqCst), 0);

    let mut event: aws_lambda_events::event::cognito::CognitoEventUserPoolsCreateAuthChallenge =
        sample("create-auth-challenge");
    event
        .request
        .user_attributes
        .insert("phone_number".into(), "+14155552671".into());
    let created = create_auth_challenge(&triggers, event)
        .await
        .expect("created");
    assert_eq!(sender.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        created
            .response
            .private_challenge_parameters
            .keys()
            .collect::<Vec<_>>(),
        vec!["challenge_id"]
    );
    assert_eq!(
        created.response.public_challenge_parameters["channel"],
        "sms"
    );
    assert!(created
        .response
        .challenge_metadata
        .as_deref()
        .unwrap()
        .starts_with("AUTHKIT:ch_"));
}

#[tokio::test]
async fn create_sends_nothing_for_an_unknown_user() {
    let (triggers, sender) = triggers().await;
    // The sample's username is no email or phone number: like a user with no contact.
    let unreachable =
        create_auth_challenge(&triggers, sample("create-auth-challenge-user-not-found")).await;
    assert!(matches!(unreachable, Err(TriggerError::NoContact)));
    let mut event: aws_lambda_events::event::cognito::CognitoEventUserPoolsCreateAuthChallenge =
        sample("create-auth-challenge-user-not-found");
    event.cognito_event_user_pools_header.user_name = Some("+14155552671".into());
    event.request.session.clear();
    let decoy = create_auth_challenge(&triggers, event)
        .await
        .expect("a decoy");
    assert_eq!(
        decoy.response.public_challenge_parameters["destination"],
        "+1*******671"
    );
    assert_eq!(sender.0.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn verify_refuses_the_aws_samples_without_an_authkit_challenge() {
    let (triggers, _) = triggers().await;
    let error = verify_auth_challenge(&triggers, sample("verify-auth-challenge"))
        .await
        .expect_err("no challenge_id in the sample");
    assert!(error.to_string().contains("challenge_id"), "{error}");
    let unknown = verify_auth_challenge(&triggers, sample("verify-auth-challenge-user-not-found"))
        .await
        .expect("answered");
    assert!(!unknown.response.answer_correct);
}

#[test]
fn pre_sign_up_refuses_the_public_sign_up_sample_and_confirms_admin_created_users() {
    assert!(matches!(
        pre_sign_up(sample("presignup")),
        Err(TriggerError::PublicSignUp)
    ));
    let mut admin: aws_lambda_events::event::cognito::CognitoEventUserPoolsPreSignup =
        sample("presignup");
    admin.cognito_event_user_pools_header.trigger_source = Some(
        aws_lambda_events::event::cognito::CognitoEventUserPoolsPreSignupTriggerSource::AdminCreateUser,
    );
    let event = pre_sign_up(admin).expect("admin-created users pass");
    assert!(event.response.auto_confirm_user);
    assert!(
        !event.response.auto_verify_email && !event.response.auto_verify_phone,
        "the sample asks to verify both; no contact is verified before a code proves it"
    );
}
