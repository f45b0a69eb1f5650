//! Service behaviour for accounts an outside user directory (Cognito) keeps: results bound
//! to the session that asked for them, decoys for accounts that do not exist, proofs of a
//! new contact, and sign-up limits.

use super::testing::{Harness, REDIRECT};
use super::{ExpectedResult, RequestedKind, StartRequest};
use crate::error::AuthError;
use crate::identifier::Identifier;
use crate::rate_limit::Scope;
use crate::tenant::TenantPolicy;

/// Starts a magic link to `identifier` and confirms it: the id and the one-time result.
async fn confirmed_link(h: &Harness, identifier: &str) -> (String, String) {
    let request = StartRequest {
        identifier,
        channel: None,
        kind: RequestedKind::MagicLink,
        redirect_uri: Some(REDIRECT),
        code_challenge: None,
        response_mode: Default::default(),
    };
    let started = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
    let confirmed = h
        .authkit
        .confirm_magic_link(
            &h.tenant,
            None,
            started.id.as_str(),
            &h.sender.last_secret(),
        )
        .await
        .unwrap();
    let redirect = url::Url::parse(&confirmed.redirect_to).unwrap();
    let fragment = redirect.fragment().unwrap_or_default().to_owned();
    let result = redirect
        .query_pairs()
        .chain(url::form_urlencoded::parse(fragment.as_bytes()))
        .find(|(k, _)| k == "authkit_result")
        .unwrap()
        .1
        .into_owned();
    (started.id.to_string(), result)
}

#[tokio::test]
async fn a_bound_result_answers_only_its_own_challenge_and_contacts_and_wrong_ones_consume_nothing()
{
    let h = Harness::new().await;
    let (id, result) = confirmed_link(&h, "mallory@example.net").await;
    let (other_id, _) = confirmed_link(&h, "jane@example.com").await;
    let mallory = [Identifier::parse("mallory@example.net", None).unwrap()];
    let jane = [Identifier::parse("jane@example.com", None).unwrap()];

    let for_another_challenge = ExpectedResult {
        challenge_id: &other_id,
        identifiers: &mallory,
    };
    let sent_to_someone_else = ExpectedResult {
        challenge_id: &id,
        identifiers: &jane,
    };
    for wrong in [for_another_challenge, sent_to_someone_else] {
        assert!(matches!(
            h.authkit
                .exchange_result(h.caller(), &result, Some(wrong), None)
                .await,
            Err(AuthError::InvalidSignInResult)
        ));
    }
    let own = ExpectedResult {
        challenge_id: &id,
        identifiers: &mallory,
    };
    let verified = h
        .authkit
        .exchange_result(h.caller(), &result, Some(own), None)
        .await
        .expect("the refused attempts consumed nothing");
    assert_eq!(verified.challenge.identifier, mallory[0]);
}

fn code_for(identifier: &str) -> StartRequest<'_> {
    StartRequest {
        identifier,
        channel: None,
        kind: RequestedKind::Code,
        redirect_uri: None,
        code_challenge: None,
        response_mode: Default::default(),
    }
}

#[tokio::test]
async fn a_decoy_looks_like_a_start_counts_like_one_and_sends_nothing() {
    let h = Harness::new().await;
    let real = h
        .authkit
        .start_sign_in(h.caller(), code_for("jane@example.com"))
        .await
        .unwrap();
    let decoy = h
        .authkit
        .start_decoy(h.caller(), code_for("nobody@example.com"))
        .await
        .unwrap();
    assert_eq!(h.sender.count(), 1, "the decoy sent nothing");
    assert_eq!(decoy.shown.masked_destination, "n***@example.com");
    assert_eq!(
        (
            decoy.shown.kind,
            decoy.shown.channel,
            decoy.shown.expires_at
        ),
        (real.kind, real.channel, real.expires_at)
    );
    assert!(h
        .stores
        .challenges
        .get(&h.tenant.id, &decoy.shown.id)
        .await
        .unwrap()
        .is_none());
    for _ in 1..5 {
        h.authkit
            .start_decoy(h.caller(), code_for("nobody@example.com"))
            .await
            .unwrap();
    }
    let limited = h
        .authkit
        .start_decoy(h.caller(), code_for("nobody@example.com"))
        .await;
    assert!(
        matches!(&limited, Err(AuthError::RateLimited(t)) if t.scope == Scope::Identifier),
        "the sixth start in ten minutes is refused, as for a real account: {limited:?}"
    );
}

#[tokio::test]
async fn a_decoy_goes_on_and_is_resent_under_a_real_challenges_rules() {
    let h = Harness::new().await;
    let request = || code_for("nobody@example.com");
    let first = h.authkit.start_decoy(h.caller(), request()).await.unwrap();
    let again = h
        .authkit
        .continue_decoy(h.caller(), request(), &first, false)
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "a live decoy is reused, like a live challenge"
    );
    assert!(matches!(
        h.authkit
            .continue_decoy(h.caller(), request(), &first, true)
            .await,
        Err(AuthError::ResendTooSoon { .. })
    ));
    h.clock.advance(30);
    let mut resent = first.clone();
    for resends in 1..=3 {
        resent = h
            .authkit
            .continue_decoy(h.caller(), request(), &resent, true)
            .await
            .unwrap();
        assert_eq!(resent.resends, resends);
        assert_ne!(resent.shown.id, first.shown.id);
        h.clock.advance(30);
    }
    assert!(matches!(
        h.authkit
            .continue_decoy(h.caller(), request(), &resent, true)
            .await,
        Err(AuthError::ResendLimitReached)
    ));
    h.clock.advance(600);
    let fresh = h
        .authkit
        .continue_decoy(h.caller(), request(), &resent, false)
        .await
        .unwrap();
    assert!(fresh.shown.expires_at > resent.shown.expires_at);
    assert_eq!(fresh.resends, 0);
    assert_eq!(h.sender.count(), 0);
}

#[tokio::test]
async fn wrong_answers_to_decoys_lock_an_identifier_like_wrong_codes_do() {
    let h = Harness::with_policy(TenantPolicy {
        identifier_failure_cap: 3,
        ..TenantPolicy::default()
    })
    .await;
    for _ in 0..3 {
        h.authkit
            .reject_decoy_answer(h.caller(), "nobody@example.com")
            .await
            .unwrap();
    }
    assert!(matches!(
        h.authkit
            .start_decoy(h.caller(), code_for("nobody@example.com"))
            .await,
        Err(AuthError::IdentifierLocked { .. })
    ));
    assert!(matches!(
        h.authkit
            .start_sign_in(h.caller(), code_for("nobody@example.com"))
            .await,
        Err(AuthError::IdentifierLocked { .. })
    ));
}

#[tokio::test]
async fn a_contact_proof_proves_the_contact_for_its_account_only_and_signs_nobody_in() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_contact_proof(h.caller(), "+14155552671", "pool:jane")
        .await
        .unwrap();
    let id = started.id.to_string();
    let code = h.sender.last_secret();
    assert!(matches!(
        h.authkit.verify_answer(h.caller(), &id, &code).await,
        Err(AuthError::ChallengeNotFound)
    ));
    assert!(matches!(
        h.authkit
            .verify_contact_proof(h.caller(), &id, &code, "pool:mallory")
            .await,
        Err(AuthError::ChallengeNotFound)
    ));
    let stored = h
        .stores
        .challenges
        .get(&h.tenant.id, &started.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.attempts, 0, "refused uses count no attempt");

    h.clock.advance(30);
    let resent = h.authkit.resend(h.caller(), &id).await.unwrap();
    let resent_id = resent.id.to_string();
    let code = h.sender.last_secret();
    assert!(
        matches!(
            h.authkit.verify_answer(h.caller(), &resent_id, &code).await,
            Err(AuthError::ChallengeNotFound)
        ),
        "a resend keeps the purpose"
    );
    let proven = h
        .authkit
        .verify_contact_proof(h.caller(), &resent_id, &code, "pool:jane")
        .await
        .unwrap();
    assert_eq!(proven.as_str(), "+14155552671");
    assert!(matches!(
        h.authkit
            .verify_contact_proof(h.caller(), &resent_id, &code, "pool:jane")
            .await,
        Err(AuthError::ChallengeUsed)
    ));
}

#[tokio::test]
async fn a_sign_in_code_does_not_prove_a_contact() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("+14155552671"))
        .await
        .unwrap();
    assert!(matches!(
        h.authkit
            .verify_contact_proof(
                h.caller(),
                started.id.as_str(),
                &h.sender.last_secret(),
                "pool:jane"
            )
            .await,
        Err(AuthError::ChallengeNotFound)
    ));
}

#[tokio::test]
async fn sign_ups_are_limited_per_ip_and_per_tenant_by_default() {
    let h = Harness::new().await;
    let limits = &h.tenant.policy.rate_limits.sign_up;
    let scopes: Vec<Scope> = limits.iter().map(|limit| limit.scope).collect();
    assert_eq!(scopes, vec![Scope::Ip, Scope::Tenant]);

    let h = Harness::with_policy(TenantPolicy {
        rate_limits: crate::rate_limit::RateLimitPolicy {
            sign_up: vec![crate::rate_limit::Limit {
                scope: Scope::Tenant,
                max: 2,
                window_secs: 3600,
            }],
            ..Default::default()
        },
        ..TenantPolicy::default()
    })
    .await;
    for n in 0..2 {
        let ip = format!("198.51.100.{n}");
        let caller = super::Caller {
            tenant: &h.tenant,
            ip: Some(&ip),
        };
        h.authkit
            .admit_sign_up(caller, &format!("user{n}@example.com"))
            .await
            .unwrap();
    }
    let refused = h
        .authkit
        .admit_sign_up(h.caller(), "user3@example.com")
        .await;
    assert!(
        matches!(&refused, Err(AuthError::RateLimited(t)) if t.scope == Scope::Tenant),
        "{refused:?}"
    );
}
