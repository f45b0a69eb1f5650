//! The behaviour every store must have, as one suite run against each implementation (the
//! embedded store in this crate's tests, DynamoDB in `authkit-dynamodb`'s). Each check
//! panics with a message naming the broken rule. Checks use fresh ids, so one set of
//! stores (one set of tables) serves the whole suite.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::audit::{AuditEvent, AuditKind, Outcome};
use crate::challenge::{
    Challenge, ChallengeId, ChallengeKind, ChallengePurpose, ChallengeState, ResponseMode,
};
use crate::clock::{Clock, OsRandomness, SystemClock, Timestamp};
use crate::delivery::{DeliveryError, DeliveryReceipt, MessageContent, OutgoingMessage, Sender};
use crate::device::{Device, DeviceId, Fingerprint, TrustLevel};
use crate::error::AuthError;
use crate::identifier::{Channel, Identifier};
use crate::pkce::CodeChallenge;
use crate::secret::{CodeLength, Pepper};
use crate::service::{
    AuthKit, Caller, NewTenant, RequestedKind, ServiceSettings, StartRequest, StaticKeys,
};
use crate::store::{
    Admission, AttemptOutcome, CounterKey, CounterLimit, DeviceSignIn, StoreError, Stores,
};
use crate::tenant::{ApiKey, ApiKeyRecord, KeyKind, Tenant, TenantId, TenantPolicy};
use crate::token::{FamilyId, KeyMaterial, RefreshFamily};
use crate::user::{User, UserId};

mod tenant_registry;

/// Every check, one after another.
pub async fn check_all(stores: &Stores) {
    challenges_are_inserted_once_and_read_back(stores).await;
    a_bound_magic_link_reads_back_with_its_binding(stores).await;
    attempts_are_counted_only_while_a_challenge_is_live(stores).await;
    a_challenge_is_verified_and_consumed_once(stores).await;
    an_undelivered_challenge_takes_no_answers(stores).await;
    a_resend_supersedes_atomically_within_cooldown_and_cap(stores).await;
    a_challenge_keeps_its_purpose_through_a_resend(stores).await;
    counters_add_expire_and_reset(stores).await;
    parallel_increments_are_all_counted(stores).await;
    admission_counts_in_every_counter_or_in_none(stores).await;
    parallel_admissions_never_exceed_the_limit(stores).await;
    concurrent_first_sign_ins_create_one_user(stores).await;
    an_address_in_another_case_finds_the_same_user(stores).await;
    devices_are_listed_in_order_record_sign_ins_and_are_revoked_once(stores).await;
    refresh_families_rotate_only_from_the_current_token(stores).await;
    tenants_and_api_keys_are_found_by_id_and_hash(stores).await;
    audit_events_come_back_newest_first(stores).await;
    tenant_registry::check_all(stores).await;
    parallel_answers_never_exceed_the_attempt_limit(stores.clone()).await;
    the_right_answer_after_the_limit_is_refused(stores.clone()).await;
    concurrent_refreshes_of_one_token_rotate_it_once(stores.clone()).await;
}

pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

pub(crate) fn tenant() -> TenantId {
    let mut bytes = [0u8; 6];
    crate::Randomness::fill(&OsRandomness, &mut bytes);
    TenantId::parse(&format!("conformance-{}", hex::encode(bytes))).expect("a valid tenant id")
}

fn challenge(tenant: &TenantId, at: Timestamp) -> Challenge {
    let id = ChallengeId::generate(&OsRandomness);
    let pepper = Pepper::generate(&OsRandomness);
    Challenge {
        secret_hash: pepper.hash(&Challenge::secret_context(&id), b"123456"),
        id,
        tenant: tenant.clone(),
        identifier: Identifier::parse("someone@example.com", None).expect("valid"),
        channel: Channel::Email,
        kind: ChallengeKind::Code {
            length: CodeLength::DEFAULT,
        },
        state: ChallengeState::Pending,
        attempts: 0,
        max_attempts: 3,
        resends: 0,
        max_resends: 1,
        created_at: at,
        expires_at: at.plus_secs(600),
        resend_after: at.plus_secs(30),
        redirect_uri: Some("https://app.example.com/cb".into()),
        exchange_hash: None,
        purpose: ChallengePurpose::SignIn,
        code_challenge: None,
        response_mode: ResponseMode::Fragment,
    }
}

async fn attempt(stores: &Stores, c: &Challenge, at: Timestamp) -> AttemptOutcome {
    stores
        .challenges
        .record_attempt(&c.tenant, &c.id, at)
        .await
        .expect("the store answers")
}

pub async fn challenges_are_inserted_once_and_read_back(stores: &Stores) {
    let c = challenge(&tenant(), now());
    stores.challenges.insert(&c).await.expect("inserted");
    let read = stores
        .challenges
        .get(&c.tenant, &c.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read, c, "a challenge must read back exactly as written");
    assert!(
        matches!(
            stores.challenges.insert(&c).await,
            Err(StoreError::AlreadyExists)
        ),
        "a second insert with the same id must fail"
    );
    let other_tenant = tenant();
    assert!(
        stores
            .challenges
            .get(&other_tenant, &c.id)
            .await
            .expect("read")
            .is_none(),
        "a challenge must not be visible to another tenant"
    );
}

/// A magic link bound by PKCE, with its result asked for in the query string, keeps both
/// through the store (and one that was never bound reads back unbound, above).
pub async fn a_bound_magic_link_reads_back_with_its_binding(stores: &Stores) {
    let bound = Challenge {
        kind: ChallengeKind::MagicLink,
        code_challenge: Some(
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").expect("valid"),
        ),
        response_mode: ResponseMode::Query,
        ..challenge(&tenant(), now())
    };
    stores.challenges.insert(&bound).await.expect("inserted");
    let read = stores
        .challenges
        .get(&bound.tenant, &bound.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        read, bound,
        "a bound link must keep its code challenge and response mode"
    );
}

pub async fn attempts_are_counted_only_while_a_challenge_is_live(stores: &Stores) {
    let at = now();
    let c = challenge(&tenant(), at);
    stores.challenges.insert(&c).await.expect("inserted");
    for expected in 1..=3 {
        match attempt(stores, &c, at).await {
            AttemptOutcome::Counted(counted) => {
                assert_eq!(counted.attempts, expected, "each answer counts once")
            }
            other => panic!("answer {expected} of 3 must be counted, got {other:?}"),
        }
    }
    assert!(
        matches!(attempt(stores, &c, at).await, AttemptOutcome::Refused(r) if r.attempts == 3),
        "a fourth answer to a 3-attempt challenge must be refused"
    );

    let expired = Challenge {
        expires_at: at.plus_secs(-1),
        created_at: at.plus_secs(-601),
        ..challenge(&tenant(), at)
    };
    stores.challenges.insert(&expired).await.expect("inserted");
    assert!(
        matches!(
            attempt(stores, &expired, at).await,
            AttemptOutcome::Refused(_)
        ),
        "an expired challenge must refuse answers"
    );

    let unknown = challenge(&tenant(), at);
    assert_eq!(
        attempt(stores, &unknown, at).await,
        AttemptOutcome::NotFound,
        "an unknown challenge is not found"
    );
}

pub async fn a_challenge_is_verified_and_consumed_once(stores: &Stores) {
    let at = now();
    let c = challenge(&tenant(), at);
    stores.challenges.insert(&c).await.expect("inserted");
    assert!(
        !stores
            .challenges
            .mark_consumed(&c.tenant, &c.id, at)
            .await
            .expect("answers"),
        "a pending challenge cannot be consumed"
    );
    let exchange = Pepper::generate(&OsRandomness).hash("exchange", b"x");
    assert!(
        stores
            .challenges
            .mark_verified(&c.tenant, &c.id, Some(exchange), at)
            .await
            .expect("answers"),
        "a pending challenge can be verified"
    );
    assert!(
        !stores
            .challenges
            .mark_verified(&c.tenant, &c.id, None, at)
            .await
            .expect("answers"),
        "a challenge can be verified only once"
    );
    let read = stores
        .challenges
        .get(&c.tenant, &c.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        (read.state, read.exchange_hash),
        (ChallengeState::Verified, Some(exchange))
    );
    assert!(
        matches!(attempt(stores, &c, at).await, AttemptOutcome::Refused(_)),
        "a verified challenge takes no more answers"
    );
    assert!(
        stores
            .challenges
            .mark_consumed(&c.tenant, &c.id, at)
            .await
            .expect("answers"),
        "a verified challenge can be consumed"
    );
    assert!(
        !stores
            .challenges
            .mark_consumed(&c.tenant, &c.id, at)
            .await
            .expect("answers"),
        "a challenge can be consumed only once"
    );

    let late = challenge(&tenant(), at);
    stores.challenges.insert(&late).await.expect("inserted");
    assert!(
        !stores
            .challenges
            .mark_verified(&late.tenant, &late.id, None, at.plus_secs(600))
            .await
            .expect("answers"),
        "an expired challenge cannot be verified"
    );
}

pub async fn an_undelivered_challenge_takes_no_answers(stores: &Stores) {
    let at = now();
    let c = challenge(&tenant(), at);
    stores.challenges.insert(&c).await.expect("inserted");
    stores
        .challenges
        .mark_undelivered(&c.tenant, &c.id)
        .await
        .expect("marked");
    assert!(
        matches!(attempt(stores, &c, at).await, AttemptOutcome::Refused(r) if r.state == ChallengeState::Undelivered)
    );
}

pub async fn a_resend_supersedes_atomically_within_cooldown_and_cap(stores: &Stores) {
    let at = now();
    let old = challenge(&tenant(), at);
    stores.challenges.insert(&old).await.expect("inserted");
    let new = Challenge {
        resends: 1,
        ..challenge(&old.tenant, at)
    };
    assert!(
        !stores
            .challenges
            .supersede(&old, &new, at.plus_secs(29))
            .await
            .expect("answers"),
        "a resend inside the cooldown must be refused"
    );
    assert!(
        stores
            .challenges
            .get(&new.tenant, &new.id)
            .await
            .expect("read")
            .is_none(),
        "a refused resend must write nothing"
    );
    assert!(
        stores
            .challenges
            .supersede(&old, &new, at.plus_secs(30))
            .await
            .expect("answers"),
        "a resend after the cooldown succeeds"
    );
    let old_now = stores
        .challenges
        .get(&old.tenant, &old.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(old_now.state, ChallengeState::Superseded);
    assert!(
        stores
            .challenges
            .get(&new.tenant, &new.id)
            .await
            .expect("read")
            .is_some(),
        "the new challenge exists"
    );
    let again = Challenge {
        resends: 1,
        ..challenge(&old.tenant, at)
    };
    assert!(
        !stores
            .challenges
            .supersede(&old, &again, at.plus_secs(60))
            .await
            .expect("answers"),
        "a superseded challenge cannot be superseded again"
    );
    let capped = Challenge {
        resends: 2,
        ..challenge(&old.tenant, at)
    };
    assert!(
        !stores
            .challenges
            .supersede(&new, &capped, at.plus_secs(60))
            .await
            .expect("answers"),
        "the resend cap (1) must hold"
    );
}

pub async fn a_challenge_keeps_its_purpose_through_a_resend(stores: &Stores) {
    let at = now();
    let proof = Challenge {
        purpose: ChallengePurpose::AddContact {
            account: "cognito:us-east-1_Pool:0f1e2d3c".into(),
        },
        redirect_uri: None,
        ..challenge(&tenant(), at)
    };
    stores.challenges.insert(&proof).await.expect("inserted");
    let read = stores
        .challenges
        .get(&proof.tenant, &proof.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read, proof, "a challenge must read back with its purpose");
    let later = at.plus_secs(30);
    let resent = Challenge {
        id: ChallengeId::generate(&OsRandomness),
        resends: 1,
        ..proof.clone()
    };
    assert!(
        stores
            .challenges
            .supersede(&proof, &resent, later)
            .await
            .expect("the store answers"),
        "the resend must be accepted"
    );
    let read = stores
        .challenges
        .get(&resent.tenant, &resent.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        read.purpose, proof.purpose,
        "a resent challenge must keep its purpose"
    );
}

pub async fn counters_add_expire_and_reset(stores: &Stores) {
    let at = now();
    let prefix = tenant();
    let a = CounterKey {
        key: format!("{prefix}#a"),
        expires_at: at.plus_secs(10),
    };
    let b = CounterKey {
        key: format!("{prefix}#b"),
        expires_at: at.plus_secs(10),
    };
    assert_eq!(
        stores
            .counters
            .increment(&[a.clone(), b.clone()], at)
            .await
            .expect("counted"),
        vec![1, 1]
    );
    assert_eq!(
        stores
            .counters
            .increment(std::slice::from_ref(&a), at)
            .await
            .expect("counted"),
        vec![2]
    );
    assert_eq!(
        stores
            .counters
            .get(&a.key, at)
            .await
            .expect("read")
            .map(|v| v.count),
        Some(2)
    );
    let later = at.plus_secs(20);
    assert_eq!(
        stores.counters.get(&a.key, later).await.expect("read"),
        None,
        "an expired counter reads as absent"
    );
    let renewed = CounterKey {
        expires_at: later.plus_secs(10),
        ..a.clone()
    };
    assert_eq!(
        stores
            .counters
            .increment(std::slice::from_ref(&renewed), later)
            .await
            .expect("counted"),
        vec![1],
        "an expired counter restarts at one"
    );
    stores.counters.reset(&b.key).await.expect("reset");
    assert_eq!(stores.counters.get(&b.key, at).await.expect("read"), None);
}

pub async fn parallel_increments_are_all_counted(stores: &Stores) {
    let at = now();
    let key = CounterKey {
        key: format!("{}#parallel", tenant()),
        expires_at: at.plus_secs(60),
    };
    let counts = futures::future::join_all(
        (0..50).map(|_| stores.counters.increment(std::slice::from_ref(&key), at)),
    )
    .await;
    let mut seen: Vec<u64> = counts.into_iter().map(|c| c.expect("counted")[0]).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<u64>>(),
        "50 parallel increments must yield each count exactly once"
    );
}

pub async fn admission_counts_in_every_counter_or_in_none(stores: &Stores) {
    let at = now();
    let prefix = tenant();
    let limit = |name: &str, max| CounterLimit {
        key: CounterKey {
            key: format!("{prefix}#{name}"),
            expires_at: at.plus_secs(60),
        },
        max,
    };
    let (roomy, tight) = (limit("roomy", 10), limit("tight", 1));
    let count = |limit: &CounterLimit| {
        let key = limit.key.key.clone();
        async move {
            stores
                .counters
                .get(&key, at)
                .await
                .expect("read")
                .map_or(0, |value| value.count)
        }
    };
    let both = [roomy.clone(), tight.clone()];
    assert_eq!(
        stores.counters.admit(&both, at).await.expect("judged"),
        Admission::Admitted
    );
    assert_eq!((count(&roomy).await, count(&tight).await), (1, 1));
    assert_eq!(
        stores.counters.admit(&both, at).await.expect("judged"),
        Admission::Refused(vec![1]),
        "the counter at its max refuses, and is named"
    );
    assert_eq!(
        (count(&roomy).await, count(&tight).await),
        (1, 1),
        "a refused request is counted nowhere"
    );
    let expired = CounterLimit {
        key: CounterKey {
            expires_at: at.plus_secs(120),
            ..tight.key.clone()
        },
        ..tight.clone()
    };
    assert_eq!(
        stores
            .counters
            .admit(std::slice::from_ref(&expired), at.plus_secs(60))
            .await
            .expect("judged"),
        Admission::Admitted,
        "an expired counter is a fresh one"
    );
}

pub async fn parallel_admissions_never_exceed_the_limit(stores: &Stores) {
    let at = now();
    let prefix = tenant();
    let limits = [
        CounterLimit {
            key: CounterKey {
                key: format!("{prefix}#client"),
                expires_at: at.plus_secs(60),
            },
            max: 100,
        },
        CounterLimit {
            key: CounterKey {
                key: format!("{prefix}#shared"),
                expires_at: at.plus_secs(60),
            },
            max: 7,
        },
    ];
    let decisions =
        futures::future::join_all((0..30).map(|_| stores.counters.admit(&limits, at))).await;
    let admitted = decisions
        .into_iter()
        .filter(|decision| decision.as_ref().expect("judged") == &Admission::Admitted)
        .count();
    assert_eq!(admitted, 7, "30 parallel requests against a limit of 7");
    for (limit, expected) in limits.iter().zip([7, 7]) {
        let value = stores.counters.get(&limit.key.key, at).await.expect("read");
        assert_eq!(
            value.map(|v| v.count),
            Some(expected),
            "{}: only admitted requests stay counted",
            limit.key.key
        );
    }
}

pub async fn an_address_in_another_case_finds_the_same_user(stores: &Stores) {
    let tenant = tenant();
    let user = |typed: &str| User {
        id: UserId::generate(&OsRandomness),
        tenant: tenant.clone(),
        identifier: Identifier::parse(typed, None).expect("valid"),
        created_at: now(),
    };
    let (first, created) = stores
        .users
        .find_or_create(&user("Dave@example.com"))
        .await
        .expect("stored");
    assert!(created);
    let (again, created) = stores
        .users
        .find_or_create(&user("dave@EXAMPLE.com"))
        .await
        .expect("stored");
    assert!(!created, "an address in another case is the same person");
    assert_eq!(again.id, first.id);
    assert_eq!(
        again.identifier.as_str(),
        "Dave@example.com",
        "kept as first typed"
    );
}

pub async fn concurrent_first_sign_ins_create_one_user(stores: &Stores) {
    let tenant = tenant();
    let identifier = Identifier::parse("+14155552671", None).expect("valid");
    let candidates: Vec<User> = (0..8)
        .map(|_| User {
            id: UserId::generate(&OsRandomness),
            tenant: tenant.clone(),
            identifier: identifier.clone(),
            created_at: now(),
        })
        .collect();
    let results =
        futures::future::join_all(candidates.iter().map(|c| stores.users.find_or_create(c))).await;
    let results: Vec<(User, bool)> = results.into_iter().map(|r| r.expect("answered")).collect();
    assert_eq!(
        results.iter().filter(|(_, created)| *created).count(),
        1,
        "exactly one concurrent first sign-in creates the user"
    );
    assert!(
        results.windows(2).all(|w| w[0].0.id == w[1].0.id),
        "every concurrent first sign-in gets the same user"
    );
    let user = &results[0].0;
    assert_eq!(
        stores
            .users
            .get(&tenant, &user.id)
            .await
            .expect("read")
            .as_ref(),
        Some(user)
    );
}

pub async fn devices_are_listed_in_order_record_sign_ins_and_are_revoked_once(stores: &Stores) {
    let at = now();
    let tenant = tenant();
    let user = UserId::generate(&OsRandomness);
    let device = |created: i64| Device {
        id: DeviceId::generate(&OsRandomness),
        tenant: tenant.clone(),
        user_id: user.clone(),
        secret_hash: Pepper::generate(&OsRandomness).hash("device", b"s"),
        name: Some("Laptop".into()),
        fingerprint: Fingerprint {
            platform: Some("Linux".into()),
            languages: vec!["en".into()],
            ..Fingerprint::default()
        },
        trust: TrustLevel::Trusted,
        created_at: Timestamp(created),
        last_seen: Timestamp(created),
        revoked_at: None,
    };
    let (second, first) = (device(at.0 + 5), device(at.0));
    stores.devices.insert(&second).await.expect("inserted");
    stores.devices.insert(&first).await.expect("inserted");
    let listed: Vec<DeviceId> = stores
        .devices
        .list(&tenant, &user)
        .await
        .expect("listed")
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        listed,
        vec![first.id.clone(), second.id.clone()],
        "devices list oldest first"
    );
    assert_eq!(
        stores
            .devices
            .get(&tenant, &user, &first.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&first)
    );
    let sign_in = |family: &FamilyId, at: Timestamp, session_expires_at: Timestamp| DeviceSignIn {
        tenant: tenant.clone(),
        user: user.clone(),
        device: first.id.clone(),
        family: family.clone(),
        session_expires_at,
        at,
    };
    let (short, long, late) = (
        FamilyId::generate(&OsRandomness),
        FamilyId::generate(&OsRandomness),
        FamilyId::generate(&OsRandomness),
    );
    for (family, expires_in) in [(&short, 200), (&long, 3_600)] {
        assert!(
            stores
                .devices
                .record_sign_in(&sign_in(
                    family,
                    at.plus_secs(100),
                    at.plus_secs(expires_in)
                ))
                .await
                .expect("answers"),
            "an active device records a sign-in"
        );
    }
    assert_eq!(
        stores
            .devices
            .get(&tenant, &user, &first.id)
            .await
            .expect("read")
            .map(|d| d.last_seen),
        Some(at.plus_secs(100)),
        "a sign-in moves last_seen"
    );
    let mut linked = stores
        .devices
        .sessions(&tenant, &user, &first.id, at.plus_secs(100))
        .await
        .expect("listed");
    linked.sort();
    let mut expected = vec![short.clone(), long.clone()];
    expected.sort();
    assert_eq!(linked, expected, "a device lists the sessions it signed in");
    assert_eq!(
        stores
            .devices
            .sessions(&tenant, &user, &first.id, at.plus_secs(300))
            .await
            .expect("listed"),
        vec![long.clone()],
        "an expired session is not listed"
    );
    assert!(
        stores
            .devices
            .sessions(&tenant, &user, &second.id, at)
            .await
            .expect("listed")
            .is_empty(),
        "another device's sessions are not listed"
    );
    assert!(stores
        .devices
        .revoke(&tenant, &user, &first.id, at)
        .await
        .expect("answers"));
    assert!(
        !stores
            .devices
            .record_sign_in(&sign_in(&late, at.plus_secs(200), at.plus_secs(3_600)))
            .await
            .expect("answers"),
        "a revoked device records no sign-in"
    );
    assert!(
        !stores
            .devices
            .sessions(&tenant, &user, &first.id, at.plus_secs(200))
            .await
            .expect("listed")
            .contains(&late),
        "a refused sign-in links no session"
    );
    let stranger_device = DeviceSignIn {
        device: DeviceId::generate(&OsRandomness),
        ..sign_in(&late, at, at.plus_secs(3_600))
    };
    assert!(
        !stores
            .devices
            .record_sign_in(&stranger_device)
            .await
            .expect("answers"),
        "an unknown device records no sign-in"
    );
    assert!(
        !stores
            .devices
            .revoke(&tenant, &user, &first.id, at)
            .await
            .expect("answers"),
        "a device is revoked once"
    );
    let stranger = UserId::generate(&OsRandomness);
    assert!(
        !stores
            .devices
            .revoke(&tenant, &stranger, &second.id, at)
            .await
            .expect("answers"),
        "another user cannot revoke the device"
    );
    assert!(stores
        .devices
        .list(&tenant, &stranger)
        .await
        .expect("listed")
        .is_empty());
}

pub async fn refresh_families_rotate_only_from_the_current_token(stores: &Stores) {
    let at = now();
    let pepper = Pepper::generate(&OsRandomness);
    let (h0, h1, h2) = (
        pepper.hash("r", b"0"),
        pepper.hash("r", b"1"),
        pepper.hash("r", b"2"),
    );
    let family = RefreshFamily {
        id: FamilyId::generate(&OsRandomness),
        tenant: tenant(),
        user_id: UserId::generate(&OsRandomness),
        device_id: None,
        amr: vec!["otp".into(), "email".into()],
        current_hash: h0,
        generation: 0,
        created_at: at,
        rotated_at: at,
        expires_at: at.plus_secs(3600),
        revoked_at: None,
    };
    stores.sessions.insert(&family).await.expect("inserted");
    assert_eq!(
        stores
            .sessions
            .get(&family.tenant, &family.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&family)
    );
    assert!(
        !stores
            .sessions
            .rotate(&family.tenant, &family.id, &h1, &h2, at)
            .await
            .expect("answers"),
        "rotation needs the current hash"
    );
    assert!(stores
        .sessions
        .rotate(&family.tenant, &family.id, &h0, &h1, at.plus_secs(7))
        .await
        .expect("answers"));
    assert!(
        !stores
            .sessions
            .rotate(&family.tenant, &family.id, &h0, &h2, at)
            .await
            .expect("answers"),
        "an old hash cannot rotate again"
    );
    let rotated = stores
        .sessions
        .get(&family.tenant, &family.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        (rotated.current_hash, rotated.generation, rotated.rotated_at),
        (h1, 1, at.plus_secs(7)),
        "a rotation stores the new hash, bumps the generation and records when"
    );
    stores
        .sessions
        .revoke(&family.tenant, &family.id, at)
        .await
        .expect("revoked");
    assert!(
        !stores
            .sessions
            .rotate(&family.tenant, &family.id, &h1, &h2, at)
            .await
            .expect("answers"),
        "a revoked family cannot rotate"
    );
    assert!(stores
        .sessions
        .get(&family.tenant, &family.id)
        .await
        .expect("read")
        .expect("present")
        .revoked_at
        .is_some());
}

pub async fn tenants_and_api_keys_are_found_by_id_and_hash(stores: &Stores) {
    let tenant = Tenant::new(
        tenant(),
        crate::tenant::TenantSettings::new(
            "Acme <Shop>".into(),
            vec!["https://a.example/cb".into()],
            TenantPolicy::default(),
        ),
        now(),
    );
    stores.tenants.put_tenant(&tenant).await.expect("stored");
    assert_eq!(
        stores
            .tenants
            .get_tenant(&tenant.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&tenant)
    );
    let pepper = Pepper::generate(&OsRandomness);
    let key = ApiKey::generate(KeyKind::Secret, &OsRandomness);
    let record = ApiKeyRecord {
        hash: key.hash(&pepper),
        tenant: tenant.id.clone(),
        kind: KeyKind::Secret,
        created_at: now(),
        revoked: false,
        id: None,
        expires_at: None,
    };
    stores.tenants.put_api_key(&record).await.expect("stored");
    assert_eq!(
        stores
            .tenants
            .find_api_key(&record.hash)
            .await
            .expect("read")
            .as_ref(),
        Some(&record)
    );
    let unknown = ApiKey::generate(KeyKind::Secret, &OsRandomness).hash(&pepper);
    assert_eq!(
        stores.tenants.find_api_key(&unknown).await.expect("read"),
        None
    );
}

pub async fn audit_events_come_back_newest_first(stores: &Stores) {
    let at = now();
    let tenant = tenant();
    for (i, kind) in [
        AuditKind::ChallengeStarted,
        AuditKind::ChallengeDelivered,
        AuditKind::ChallengeVerified,
    ]
    .into_iter()
    .enumerate()
    {
        let event = AuditEvent {
            id: format!("e{i}"),
            tenant: tenant.clone(),
            at: at.plus_secs(i as i64),
            kind,
            outcome: Outcome::Success,
            user_id: None,
            challenge_id: None,
            device_id: None,
            ip: Some("192.0.2.1".into()),
            identifier: Some("s***@example.com".into()),
            channel: Some(Channel::Email),
            detail: None,
        };
        stores.audit.append(&event).await.expect("appended");
    }
    let recent: Vec<AuditKind> = stores
        .audit
        .recent(&tenant, at.plus_secs(10), 2)
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        recent,
        vec![AuditKind::ChallengeVerified, AuditKind::ChallengeDelivered]
    );
    stores.audit.ping().await.expect("the store answers a ping");
}

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
    let sender = Arc::new(LastCode::default());
    let authkit = AuthKit::new(
        stores,
        sender.clone(),
        Arc::new(StaticKeys(Arc::new(KeyMaterial::generate(&OsRandomness)))),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceSettings {
            issuer: "https://auth.example.com".into(),
            public_base_url: "https://auth.example.com".into(),
            default_allowed_origins: Default::default(),
        },
    );
    let mut policy = TenantPolicy {
        max_attempts,
        ..TenantPolicy::default()
    };
    policy.rate_limits.verify.clear();
    let created = authkit
        .create_tenant(NewTenant {
            id: tenant(),
            name: "Conformance".into(),
            allowed_redirect_uris: vec![],
            policy,
        })
        .await
        .expect("tenant created");
    let request = StartRequest {
        identifier: "racer@example.com",
        channel: None,
        kind: RequestedKind::Code,
        redirect_uri: None,
        code_challenge: None,
        response_mode: Default::default(),
    };
    let started = authkit
        .start_sign_in(
            Caller {
                tenant: &created.tenant,
                ip: None,
            },
            request,
        )
        .await
        .expect("started");
    let code = sender
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("a code was sent");
    (authkit, created.tenant, started.id.to_string(), code)
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
            .map(|answer| authkit.verify_answer(caller, &challenge_id, answer)),
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

/// Two tabs (or a client and its retry) refreshing one token at once: every request gets
/// the same new token, the family rotates exactly once, and nobody is signed out.
pub async fn concurrent_refreshes_of_one_token_rotate_it_once(stores: Stores) {
    let (authkit, tenant, challenge_id, code) = service_with_challenge(stores.clone(), 5).await;
    let caller = Caller {
        tenant: &tenant,
        ip: None,
    };
    let verified = authkit
        .verify_answer(caller, &challenge_id, &code)
        .await
        .expect("the right code");
    let signed_in = authkit
        .complete_sign_in(caller, verified)
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
