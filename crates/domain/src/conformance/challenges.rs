//! Challenges: insertion, counting answers, and the state moves of [`Write`].

use super::{apply, challenge, insert, now, tenant};
use crate::challenge::{
    Challenge, ChallengeId, ChallengeKind, ChallengeOwner, ChallengePurpose, ChallengeState,
    ResponseMode,
};
use crate::clock::{OsRandomness, Timestamp};
use crate::pkce::CodeChallenge;
use crate::secret::Pepper;
use crate::store::{Applied, AttemptOutcome, Stores, Write};

async fn attempt(stores: &Stores, c: &Challenge, at: Timestamp) -> AttemptOutcome {
    stores
        .challenges
        .record_attempt(&c.tenant, &c.id, at)
        .await
        .expect("the store answers")
}

async fn read(stores: &Stores, c: &Challenge) -> Challenge {
    stores
        .challenges
        .get(&c.tenant, &c.id)
        .await
        .expect("read")
        .expect("present")
}

pub async fn challenges_are_inserted_once_and_read_back(stores: &Stores) {
    let c = challenge(&tenant(), now());
    insert(stores, &c).await;
    assert_eq!(
        read(stores, &c).await,
        c,
        "a challenge must read back exactly as written"
    );
    assert_eq!(
        apply(stores, vec![Write::InsertChallenge(c.clone())]).await,
        Applied::Refused(vec![0]),
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
    insert(stores, &bound).await;
    assert_eq!(
        read(stores, &bound).await,
        bound,
        "a bound link must keep its code challenge and response mode"
    );
}

pub async fn attempts_are_counted_only_while_a_challenge_is_live(stores: &Stores) {
    let at = now();
    let c = challenge(&tenant(), at);
    insert(stores, &c).await;
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
    insert(stores, &expired).await;
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

fn verify(c: &Challenge, exchange: Option<crate::secret::SecretHash>, at: Timestamp) -> Write {
    Write::VerifyChallenge {
        tenant: c.tenant.clone(),
        id: c.id.clone(),
        exchange_hash: exchange,
        now: at,
    }
}

fn consume(c: &Challenge, at: Timestamp) -> Write {
    Write::ConsumeChallenge {
        tenant: c.tenant.clone(),
        id: c.id.clone(),
        now: at,
    }
}

pub async fn a_challenge_is_verified_and_consumed_once(stores: &Stores) {
    let at = now();
    let c = challenge(&tenant(), at);
    insert(stores, &c).await;
    assert_eq!(
        apply(stores, vec![consume(&c, at)]).await,
        Applied::Refused(vec![0]),
        "a pending challenge cannot be consumed"
    );
    let exchange = Pepper::generate(&OsRandomness).hash("exchange", b"x");
    assert_eq!(
        apply(stores, vec![verify(&c, Some(exchange), at)]).await,
        Applied::Done,
        "a pending challenge can be verified"
    );
    assert_eq!(
        apply(stores, vec![verify(&c, None, at)]).await,
        Applied::Refused(vec![0]),
        "a challenge can be verified only once"
    );
    let read_back = read(stores, &c).await;
    assert_eq!(
        (read_back.state, read_back.exchange_hash),
        (ChallengeState::Verified, Some(exchange))
    );
    assert!(
        matches!(attempt(stores, &c, at).await, AttemptOutcome::Refused(_)),
        "a verified challenge takes no more answers"
    );
    assert_eq!(
        apply(stores, vec![consume(&c, at)]).await,
        Applied::Done,
        "a verified challenge can be consumed"
    );
    assert_eq!(
        apply(stores, vec![consume(&c, at)]).await,
        Applied::Refused(vec![0]),
        "a challenge can be consumed only once"
    );

    let late = challenge(&tenant(), at);
    insert(stores, &late).await;
    assert_eq!(
        apply(stores, vec![verify(&late, None, at.plus_secs(600))]).await,
        Applied::Refused(vec![0]),
        "an expired challenge cannot be verified"
    );
}

pub async fn a_failed_delivery_allows_a_resend_at_once(stores: &Stores) {
    let at = now();
    let c = challenge(&tenant(), at);
    insert(stores, &c).await;
    let allow = |c: &Challenge| Write::AllowResend {
        tenant: c.tenant.clone(),
        id: c.id.clone(),
        now: at.plus_secs(2),
    };
    assert_eq!(apply(stores, vec![allow(&c)]).await, Applied::Done);
    let reopened = read(stores, &c).await;
    assert_eq!(reopened.resend_after, at.plus_secs(2));
    assert!(
        reopened.accepts_resend(at.plus_secs(2)),
        "resendable at once"
    );
    assert!(
        matches!(attempt(stores, &c, at).await, AttemptOutcome::Counted(_)),
        "still answerable: the message may arrive late"
    );

    let verified = challenge(&c.tenant, at);
    insert(stores, &verified).await;
    apply(stores, vec![verify(&verified, None, at)]).await;
    assert_eq!(
        apply(stores, vec![allow(&verified)]).await,
        Applied::Refused(vec![0]),
        "only a pending challenge is reopened"
    );
}

pub async fn a_resend_supersedes_atomically_within_cooldown_and_cap(stores: &Stores) {
    let at = now();
    let old = challenge(&tenant(), at);
    insert(stores, &old).await;
    let supersede = |old: &Challenge, new: &Challenge, at: Timestamp| {
        vec![
            Write::SupersedeChallenge {
                tenant: old.tenant.clone(),
                id: old.id.clone(),
                now: at,
            },
            Write::InsertChallenge(new.clone()),
        ]
    };
    let new = Challenge {
        resends: 1,
        ..challenge(&old.tenant, at)
    };
    assert_eq!(
        apply(stores, supersede(&old, &new, at.plus_secs(29))).await,
        Applied::Refused(vec![0]),
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
    assert_eq!(
        apply(stores, supersede(&old, &new, at.plus_secs(30))).await,
        Applied::Done,
        "a resend after the cooldown succeeds"
    );
    assert_eq!(read(stores, &old).await.state, ChallengeState::Superseded);
    assert_eq!(read(stores, &new).await, new, "the new challenge exists");
    let again = Challenge {
        resends: 1,
        ..challenge(&old.tenant, at)
    };
    assert!(
        apply(stores, supersede(&old, &again, at.plus_secs(60)))
            .await
            .refused(0),
        "a superseded challenge cannot be superseded again"
    );
    let capped = Challenge {
        resends: 2,
        ..challenge(&old.tenant, at)
    };
    assert!(
        apply(stores, supersede(&new, &capped, at.plus_secs(60)))
            .await
            .refused(0),
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
    insert(stores, &proof).await;
    assert_eq!(
        read(stores, &proof).await,
        proof,
        "a challenge must read back with its purpose"
    );
    let resent = Challenge {
        id: ChallengeId::generate(&OsRandomness),
        resends: 1,
        ..proof.clone()
    };
    let supersede = vec![
        Write::SupersedeChallenge {
            tenant: proof.tenant.clone(),
            id: proof.id.clone(),
            now: at.plus_secs(30),
        },
        Write::InsertChallenge(resent.clone()),
    ];
    assert_eq!(
        apply(stores, supersede).await,
        Applied::Done,
        "the resend must be accepted"
    );
    assert_eq!(
        read(stores, &resent).await.purpose,
        proof.purpose,
        "a resent challenge must keep its purpose"
    );
}

/// Erasure finds a person's challenges by their identifier and by the account a contact
/// proof is bound to, in any state, and nobody else's (decision 120).
pub async fn challenges_are_erased_by_owner_and_no_others(stores: &Stores) {
    let tenant = tenant();
    let at = now();
    let theirs = challenge(&tenant, at);
    let verified = Challenge {
        id: ChallengeId::generate(&OsRandomness),
        identifier: crate::identifier::Identifier::parse("SOMEONE@example.com", None)
            .expect("valid"),
        ..challenge(&tenant, at)
    };
    let proof = Challenge {
        id: ChallengeId::generate(&OsRandomness),
        identifier: crate::identifier::Identifier::parse("+14155552671", None).expect("valid"),
        purpose: ChallengePurpose::AddContact {
            account: "authkit:usr_someone".into(),
        },
        ..challenge(&tenant, at)
    };
    let another = Challenge {
        id: ChallengeId::generate(&OsRandomness),
        identifier: crate::identifier::Identifier::parse("other@example.com", None).expect("valid"),
        ..challenge(&tenant, at)
    };
    let same_elsewhere = challenge(&super::tenant(), at);
    for c in [&theirs, &verified, &proof, &another, &same_elsewhere] {
        insert(stores, c).await;
    }
    assert_eq!(
        apply(stores, vec![verify(&verified, None, at)]).await,
        Applied::Done
    );
    let owners = [
        ChallengeOwner::identifier(&theirs.identifier),
        ChallengeOwner::account("authkit:usr_someone"),
    ];
    for _ in 0..2 {
        stores
            .challenges
            .erase_owned(&tenant, &owners)
            .await
            .expect("erasing is idempotent");
        for gone in [&theirs, &verified, &proof] {
            assert_eq!(
                stores
                    .challenges
                    .get(&tenant, &gone.id)
                    .await
                    .expect("read"),
                None,
                "a challenge about the erased person stays: {:?}",
                gone.identifier
            );
        }
        assert_eq!(read(stores, &another).await, another, "another's stays");
        assert_eq!(
            read(stores, &same_elsewhere).await,
            same_elsewhere,
            "the same identifier in another tenant stays"
        );
    }
}
