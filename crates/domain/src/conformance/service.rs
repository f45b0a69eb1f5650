//! The service over a store: the races its conditional writes must settle.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::tenant;
use crate::challenge::{ChallengeId, ChallengeState};
use crate::clock::{OsRandomness, SystemClock};
use crate::delivery::{DeliveryError, DeliveryReceipt, MessageContent, OutgoingMessage, Sender};
use crate::error::AuthError;
use crate::service::{
    AuthKit, Caller, NewTenant, RequestedKind, ServiceSettings, StartRequest, StaticKeys,
};
use crate::store::Stores;
use crate::tenant::{Tenant, TenantPolicy};
use crate::token::KeyMaterial;

/// Keeps the last code sent, so the service can be driven end to end.
#[derive(Default)]
struct LastCode(Mutex<Option<String>>);

#[async_trait]
impl Sender for LastCode {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        if let MessageContent::Code(code) = &message.content {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(code.expose().to_owned());
        }
        Ok(DeliveryReceipt {
            provider_message_id: "conformance".into(),
        })
    }
}

async fn service_with_challenge(
    stores: Stores,
    max_attempts: u32,
) -> (AuthKit, Tenant, String, String) {
    let (authkit, sender, tenant) = service(stores, policy(max_attempts)).await;
    let (challenge_id, code) = start(&authkit, &sender, &tenant, "racer@example.com").await;
    (authkit, tenant, challenge_id, code)
}

/// A policy allowing `max_attempts` per challenge, with no verify rate limits (the races
/// below are about what the answers' own writes settle).
fn policy(max_attempts: u32) -> TenantPolicy {
    let mut policy = TenantPolicy {
        max_attempts,
        ..TenantPolicy::default()
    };
    policy.rate_limits.verify.clear();
    policy
}

async fn service(stores: Stores, policy: TenantPolicy) -> (AuthKit, Arc<LastCode>, Tenant) {
    let sender = Arc::new(LastCode::default());
    let authkit = AuthKit::new(
        stores,
        sender.clone(),
        Arc::new(StaticKeys(Arc::new(KeyMaterial::generate(&OsRandomness)))),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceSettings::new("https://auth.example.com", "https://auth.example.com"),
    );
    let created = authkit
        .create_tenant(NewTenant {
            id: tenant(),
            name: "Conformance".into(),
            allowed_redirect_uris: vec![],
            policy,
        })
        .await
        .expect("tenant created");
    (authkit, sender, created.tenant)
}

/// Starts a sign-in for `identifier`: the challenge id and the code sent.
async fn start(
    authkit: &AuthKit,
    sender: &LastCode,
    tenant: &Tenant,
    identifier: &str,
) -> (String, String) {
    let request = StartRequest {
        identifier,
        channel: None,
        kind: RequestedKind::Code,
        redirect_uri: None,
        code_challenge: None,
        response_mode: Default::default(),
    };
    let started = authkit
        .start_sign_in(Caller { tenant, ip: None }, request)
        .await
        .expect("started");
    let code = sender
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("a code was sent");
    (started.id.to_string(), code)
}

/// The parallel-guess race: 50 wrong answers and the right one, all at once, against a
/// challenge that allows 5. No more than 5 answers may ever be counted, and the right one
/// wins only if it was one of them.
pub async fn parallel_answers_never_exceed_the_attempt_limit(stores: Stores) {
    let (authkit, tenant, challenge_id, code) = service_with_challenge(stores.clone(), 5).await;
    let wrong = if code == "000000" {
        "111111".to_owned()
    } else {
        "000000".to_owned()
    };
    let caller = Caller {
        tenant: &tenant,
        ip: None,
    };
    let mut answers: Vec<&str> = vec![wrong.as_str(); 50];
    answers.insert(25, code.as_str());
    let outcomes = futures::future::join_all(
        answers
            .iter()
            .map(|answer| authkit.sign_in_with_answer(caller, &challenge_id, answer)),
    )
    .await;

    let successes = outcomes.iter().filter(|o| o.is_ok()).count();
    // The fifth counted wrong answer reports `ChallengeExhausted`, like every refused one,
    // so only `WrongAnswer` (answers 1-4) is told apart here; the stored count is the proof.
    let judged_wrong = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AuthError::WrongAnswer { .. })))
        .count();
    let stored = stores
        .challenges
        .get(
            &tenant.id,
            &ChallengeId::parse(&challenge_id).expect("an id"),
        )
        .await
        .expect("read")
        .expect("present");
    assert!(
        stored.attempts <= 5,
        "{} answers were counted against a limit of 5",
        stored.attempts
    );
    assert!(successes <= 1, "{successes} answers succeeded");
    assert!(
        successes + judged_wrong <= 5,
        "{} answers were judged, more than the 5 allowed",
        successes + judged_wrong
    );
    if successes == 1 {
        assert_eq!(
            stored.state,
            ChallengeState::Verified,
            "the winning answer verified the challenge"
        );
        let session = outcomes
            .iter()
            .find_map(|o| o.as_ref().ok())
            .expect("the winner");
        assert!(
            stores
                .sessions
                .get(&tenant.id, &session.tokens.refresh_token.family)
                .await
                .expect("read")
                .is_some(),
            "a verified challenge has its session"
        );
    } else {
        assert_eq!(
            stored.attempts, 5,
            "the right answer may only lose when every attempt was used"
        );
    }
}

pub async fn the_right_answer_after_the_limit_is_refused(stores: Stores) {
    let (authkit, tenant, challenge_id, code) = service_with_challenge(stores, 5).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let caller = Caller {
        tenant: &tenant,
        ip: None,
    };
    for _ in 0..5 {
        assert!(authkit
            .verify_answer(caller, &challenge_id, wrong)
            .await
            .is_err());
    }
    let right = authkit.verify_answer(caller, &challenge_id, &code).await;
    assert!(
        matches!(right, Err(AuthError::ChallengeExhausted)),
        "the right code after 5 wrong ones must be refused, got {right:?}"
    );
}

/// Wrong answers in parallel to several challenges of one identifier: every judged one is
/// counted against the identifier's failure cap (none lost to contention), and at the cap
/// no more are judged than it allows, however many arrive at once.
pub async fn parallel_wrong_answers_are_all_counted_and_the_cap_judges_no_more(stores: Stores) {
    let mut policy = policy(5);
    policy.rate_limits.start.clear();
    policy.identifier_failure_cap = 21;
    let (authkit, sender, tenant) = service(stores, policy).await;
    let identifier = "guesser@example.com";
    let mut challenges = Vec::new();
    for _ in 0..5 {
        challenges.push(start(&authkit, &sender, &tenant, identifier).await);
    }
    let caller = Caller {
        tenant: &tenant,
        ip: None,
    };
    let wrong = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_owned();
    // 20 at once, five to each of four challenges: each is judged and counted.
    let answers: Vec<(String, String)> = challenges[..4]
        .iter()
        .flat_map(|(id, code)| std::iter::repeat_n((id.clone(), wrong(code)), 5))
        .collect();
    let outcomes = futures::future::join_all(
        answers
            .iter()
            .map(|(id, answer)| authkit.verify_answer(caller, id, answer)),
    )
    .await;
    for outcome in &outcomes {
        assert!(
            matches!(
                outcome,
                Err(AuthError::WrongAnswer { .. } | AuthError::ChallengeExhausted)
            ),
            "every wrong answer is judged and counted, got {outcome:?}"
        );
    }
    // 20 failures counted of a cap of 21: of four answers at once, exactly one is judged.
    let (last_id, last_code) = &challenges[4];
    let last = wrong(last_code);
    let outcomes =
        futures::future::join_all((0..4).map(|_| authkit.verify_answer(caller, last_id, &last)))
            .await;
    let judged = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AuthError::WrongAnswer { .. })))
        .count();
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o, Err(AuthError::IdentifierLocked { .. })))
        .count();
    assert_eq!(
        (judged, locked),
        (1, 3),
        "one answer reaches the cap and the rest find the identifier locked: {outcomes:?}"
    );
}

/// Two first sign-ins of one new identifier at once (two challenges, both answered right):
/// both succeed, as one user, created once.
pub async fn parallel_first_sign_ins_by_code_share_one_user(stores: Stores) {
    let (authkit, sender, tenant) = service(stores, policy(5)).await;
    let identifier = "twins@example.com";
    let first = start(&authkit, &sender, &tenant, identifier).await;
    let second = start(&authkit, &sender, &tenant, identifier).await;
    let caller = Caller {
        tenant: &tenant,
        ip: None,
    };
    let (a, b) = futures::join!(
        authkit.sign_in_with_answer(caller, &first.0, &first.1),
        authkit.sign_in_with_answer(caller, &second.0, &second.1),
    );
    let (a, b) = (a.expect("signed in"), b.expect("signed in"));
    assert_eq!(a.user_id, b.user_id, "one identifier, one user");
    assert_eq!(
        usize::from(a.is_new_user) + usize::from(b.is_new_user),
        1,
        "created once"
    );
}

/// Two tabs (or a client and its retry) refreshing one token at once: every request gets
/// the same new token, the family rotates exactly once, and nobody is signed out.
pub async fn concurrent_refreshes_of_one_token_rotate_it_once(stores: Stores) {
    let (authkit, tenant, challenge_id, code) = service_with_challenge(stores.clone(), 5).await;
    let caller = Caller {
        tenant: &tenant,
        ip: None,
    };
    let signed_in = authkit
        .sign_in_with_answer(caller, &challenge_id, &code)
        .await
        .expect("signed in");
    let original = signed_in.tokens.refresh_token.reveal();
    let outcomes =
        futures::future::join_all((0..8).map(|_| authkit.refresh(caller, &original))).await;
    let tokens: Vec<String> = outcomes
        .into_iter()
        .map(|outcome| {
            outcome
                .unwrap_or_else(|e| panic!("a concurrent refresh was refused: {e:?}"))
                .refresh_token
                .reveal()
        })
        .collect();
    assert!(
        tokens.windows(2).all(|pair| pair[0] == pair[1]),
        "concurrent refreshes of one token forked the session"
    );
    let family = stores
        .sessions
        .get(&tenant.id, &signed_in.tokens.refresh_token.family)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        family.revoked_at, None,
        "concurrent refreshes revoked the session"
    );
    // Every winner of a race writes the same derived successor, so even a store that let
    // two conditional writes through (moto does, under load) ends on the token handed out.
    assert!(family.generation >= 1, "the family must have rotated");
    authkit
        .refresh(caller, &tokens[0])
        .await
        .expect("the token every request got is the family's current one");
}
