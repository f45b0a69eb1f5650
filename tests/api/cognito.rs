//! Cognito CUSTOM_AUTH end to end through a driver that plays Cognito, in process over the
//! embedded store (with a hand-moved clock). The real binaries against the emulator are in
//! `cognito_pool`.

use std::collections::HashMap;
use std::sync::Arc;

use authkit_cognito::Triggers;
use authkit_delivery::Outbox;
use authkit_domain::memory::MemoryStore;
use authkit_domain::service::{NewTenant, ServiceSettings, StaticKeys};
use authkit_domain::tenant::{TenantId, TenantPolicy};
use authkit_domain::token::KeyMaterial;
use authkit_domain::{AuthKit, ManualClock, OsRandomness};
use authkit_tests::cognito_driver::{CognitoDriver, InProcess, Step};
use authkit_tests::REDIRECT_URI;

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

fn magic_link() -> HashMap<String, String> {
    HashMap::from([
        ("kind".to_owned(), "magic_link".to_owned()),
        ("redirectUri".to_owned(), REDIRECT_URI.to_owned()),
    ])
}

/// The query of the link in a message: `tenant`, `challenge_id`, `token`.
fn link_query(text: &str) -> HashMap<String, String> {
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("a link");
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The one-time result a confirmed link's redirect carries (in the query or the fragment).
fn result_in(redirect_to: &str) -> String {
    let redirect = url::Url::parse(redirect_to).unwrap();
    let fragment = redirect.fragment().unwrap_or_default().to_owned();
    redirect
        .query_pairs()
        .chain(url::form_urlencoded::parse(fragment.as_bytes()))
        .find(|(k, _)| k == "authkit_result")
        .expect("the redirect carries the result")
        .1
        .into_owned()
}

impl Pool {
    /// Opens the newest magic link and confirms it, as the person who received it would:
    /// the one-time result the app then hands to Cognito as the answer.
    async fn confirm_newest_link(&self, tenant: &authkit_domain::tenant::Tenant) -> String {
        let query = link_query(&self.last_text());
        let confirmed = self
            .triggers
            .authkit
            .confirm_magic_link(tenant, None, &query["challenge_id"], &query["token"])
            .await
            .unwrap();
        result_in(&confirmed.redirect_to)
    }
}

#[tokio::test]
async fn a_magic_link_signs_in_through_cognito() {
    let pool = pool().await;
    let (mut session, step) = pool
        .driver
        .initiate_auth("jane", email_user(), magic_link())
        .await;
    assert!(
        matches!(&step, Step::Challenge(p) if p["kind"] == "magic_link"),
        "{step:?}"
    );
    let result = pool.confirm_newest_link(&pool.triggers.tenant).await;
    assert!(matches!(
        pool.driver.respond(&mut session, &result, none()).await,
        Step::Tokens(_)
    ));
}

fn attacker() -> HashMap<String, String> {
    HashMap::from([
        ("sub".into(), "a77a".into()),
        ("email".into(), "mallory@example.net".into()),
        ("email_verified".into(), "true".into()),
    ])
}

#[tokio::test]
async fn a_magic_link_result_signs_in_only_the_session_it_was_sent_for() {
    let pool = pool().await;
    // Mallory confirms a link sent to her own address...
    let (mut own, _) = pool
        .driver
        .initiate_auth("mallory", attacker(), magic_link())
        .await;
    let result = pool.confirm_newest_link(&pool.triggers.tenant).await;
    // ...and answers Jane's CUSTOM_AUTH session with it.
    let (mut victims, step) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    assert!(matches!(step, Step::Challenge(_)), "{step:?}");
    let answered = pool.driver.respond(&mut victims, &result, none()).await;
    assert!(
        !matches!(answered, Step::Tokens(_)),
        "a result confirmed for Mallory signed in as Jane: {answered:?}"
    );
    assert!(
        matches!(
            pool.driver.respond(&mut own, &result, none()).await,
            Step::Tokens(_)
        ),
        "the refused answer must not have consumed Mallory's own result"
    );
}

#[tokio::test]
async fn a_magic_link_result_of_another_tenant_is_a_wrong_answer() {
    let pool = pool().await;
    let other = pool
        .triggers
        .authkit
        .create_tenant(NewTenant {
            id: TenantId::parse("other-app").unwrap(),
            name: "Other App".into(),
            allowed_redirect_uris: vec![REDIRECT_URI.into()],
            policy: TenantPolicy::default(),
        })
        .await
        .unwrap()
        .tenant;
    pool.triggers
        .authkit
        .start_sign_in(
            authkit_domain::service::Caller {
                tenant: &other,
                ip: None,
            },
            authkit_domain::service::StartRequest {
                identifier: "mallory@example.net",
                channel: None,
                kind: authkit_domain::service::RequestedKind::MagicLink,
                redirect_uri: None,
                code_challenge: None,
                response_mode: Default::default(),
            },
        )
        .await
        .unwrap();
    let result = pool.confirm_newest_link(&other).await;
    let (mut victims, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let answered = pool.driver.respond(&mut victims, &result, none()).await;
    assert!(matches!(answered, Step::Challenge(_)), "{answered:?}");
}

#[tokio::test]
async fn a_magic_link_result_for_an_address_the_user_no_longer_has_is_a_wrong_answer() {
    let pool = pool().await;
    let (mut session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), magic_link())
        .await;
    let result = pool.confirm_newest_link(&pool.triggers.tenant).await;
    session
        .attributes_mut()
        .insert("email".into(), "jane.new@example.com".into());
    let answered = pool.driver.respond(&mut session, &result, none()).await;
    assert!(
        !matches!(answered, Step::Tokens(_)),
        "the link went to an address that is no longer Jane's: {answered:?}"
    );
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

/// What a step shows the client, with the values that differ by user left out: which
/// keys, channel, kind and expiry.
fn shape(step: &Step) -> String {
    match step {
        Step::Challenge(public) => {
            let mut keys: Vec<&String> = public.keys().collect();
            keys.sort();
            format!(
                "challenge {keys:?} channel={} kind={} expires_at={}",
                public["channel"], public["kind"], public["expires_at"]
            )
        }
        Step::Tokens(_) => "tokens".into(),
        Step::Failed => "failed".into(),
        Step::TriggerFailed(_) => "trigger failed".into(),
    }
}

#[tokio::test]
async fn an_unknown_user_gets_a_challenge_shaped_like_a_real_one_that_no_answer_passes() {
    let pool = pool().await;
    let sms = HashMap::from([("channel".to_owned(), "sms".to_owned())]);
    let cases = [
        (
            none(),
            "jane@example.com",
            email_user(),
            "nobody@example.org",
        ),
        (sms, "+14155552671", phone_user(), "+14155552672"),
        (
            magic_link(),
            "jane@example.com",
            email_user(),
            "nobody@example.org",
        ),
    ];
    for (metadata, known_name, known, unknown_name) in cases {
        let (mut real, real_step) = pool
            .driver
            .initiate_auth(known_name, known, metadata.clone())
            .await;
        let answer = if metadata.contains_key("kind") {
            "000001".to_owned()
        } else {
            wrong(&pool.last_code()).to_owned()
        };
        let sent = pool.sent();
        let (mut decoy, decoy_step) = pool
            .driver
            .initiate_auth(unknown_name, none(), metadata.clone())
            .await;
        assert_eq!(shape(&decoy_step), shape(&real_step), "{metadata:?}");
        let Step::Challenge(public) = &decoy_step else {
            unreachable!()
        };
        let typed = authkit_domain::identifier::Identifier::parse(unknown_name, None).unwrap();
        assert_eq!(public["destination"], typed.masked());
        for round in 1..=3 {
            let real_next = pool.driver.respond(&mut real, &answer, none()).await;
            let decoy_next = pool.driver.respond(&mut decoy, &answer, none()).await;
            assert_eq!(
                shape(&decoy_next),
                shape(&real_next),
                "round {round}, {metadata:?}"
            );
        }
        assert_eq!(pool.sent(), sent, "nothing is sent for an unknown user");
    }
}

#[tokio::test]
async fn an_unknown_user_fails_a_round_exactly_when_and_how_a_known_one_does() {
    let pool = pool().await;
    let sms = HashMap::from([("channel".to_owned(), "sms".to_owned())]);
    let resend = HashMap::from([("resend".to_owned(), "true".to_owned())]);
    let (_, real) = pool
        .driver
        .initiate_auth("jane@example.com", email_user(), sms.clone())
        .await;
    let (_, decoy) = pool
        .driver
        .initiate_auth("nobody@example.org", none(), sms)
        .await;
    assert!(matches!(real, Step::TriggerFailed(_)), "{real:?}");
    assert_eq!(decoy, real, "no phone number to send to, said the same way");

    let (mut real, _) = pool
        .driver
        .initiate_auth("jane@example.com", email_user(), none())
        .await;
    let (mut decoy, _) = pool
        .driver
        .initiate_auth("nobody@example.org", none(), none())
        .await;
    let real = pool.driver.respond(&mut real, "", resend.clone()).await;
    let decoy = pool.driver.respond(&mut decoy, "", resend).await;
    assert!(matches!(real, Step::TriggerFailed(_)), "{real:?}");
    assert_eq!(decoy, real, "a resend inside the cooldown fails alike");
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

const ATTACKER_PHONE: &str = "+14155552699";

impl Pool {
    fn sent_to(&self, destination: &str) -> usize {
        self.outbox
            .messages(None)
            .iter()
            .filter(|m| m.to == destination)
            .count()
    }
}

#[tokio::test]
async fn an_attacker_cannot_pre_hijack_an_account_with_their_own_phone() {
    let pool = pool().await;
    let victim = "jane@example.com";
    let sms = HashMap::from([("channel".to_owned(), "sms".to_owned())]);

    // Public SignUp with the victim's email and the attacker's phone: refused even by a
    // pool that leaves SignUp open. AuthKit's own route (AdminCreateUser) still works.
    let both = HashMap::from([
        ("email".to_owned(), victim.to_owned()),
        ("phone_number".to_owned(), ATTACKER_PHONE.to_owned()),
    ]);
    let public = pool
        .driver
        .pre_sign_up("PreSignUp_SignUp", victim, both.clone())
        .await;
    assert!(public.is_err(), "public sign-up was allowed: {public:?}");
    let by_admin = HashMap::from([("email".to_owned(), victim.to_owned())]);
    let admin = pool
        .driver
        .pre_sign_up("PreSignUp_AdminCreateUser", victim, by_admin)
        .await;
    assert!(admin.is_ok(), "{admin:?}");

    // A user that already holds both, neither proven (made before this fix, or by a pool
    // that lets clients write contacts): no code goes to either.
    let mut unproven = both;
    unproven.insert("sub".into(), "5e55".into());
    for metadata in [sms.clone(), none()] {
        let (_, step) = pool
            .driver
            .initiate_auth(victim, unproven.clone(), metadata)
            .await;
        assert!(matches!(step, Step::TriggerFailed(_)), "{step:?}");
    }

    // The victim's proven email beside the attacker's unproven phone: SMS is refused, the
    // code goes to the email only.
    let mut mixed = email_user();
    mixed.insert("phone_number".into(), ATTACKER_PHONE.into());
    let (_, step) = pool.driver.initiate_auth(victim, mixed.clone(), sms).await;
    assert!(matches!(step, Step::TriggerFailed(_)), "{step:?}");
    let (_, step) = pool.driver.initiate_auth(victim, mixed, none()).await;
    assert!(
        matches!(&step, Step::Challenge(p) if p["channel"] == "email"),
        "{step:?}"
    );
    assert_eq!(
        pool.sent_to(ATTACKER_PHONE),
        0,
        "a code reached the attacker"
    );
}

#[tokio::test]
async fn a_wrong_answer_through_cognito_is_logged_as_one_wrong_code_outcome() {
    let logs = authkit_tests::logs::CapturedLogs::start();
    let pool = pool().await;
    let (mut session, _) = pool
        .driver
        .initiate_auth("jane", email_user(), none())
        .await;
    let code = pool.last_code();
    pool.driver
        .respond(&mut session, wrong(&code), none())
        .await;
    assert_eq!(logs.count_outcome("wrong_code"), 1);
}
