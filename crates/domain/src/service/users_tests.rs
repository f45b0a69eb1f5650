//! A tenant managing its users: a disabled user opens no session by any path, and an
//! erased one leaves nothing that signs in.

use super::testing::{code_for, laptop, Harness};
use crate::error::AuthError;
use crate::identifier::IdentifierKind;

#[tokio::test]
async fn a_disabled_users_trusted_device_opens_no_session_until_enabled() {
    let h = Harness::new().await;
    let with_device = h.sign_in_with_device("a@example.com", None, true).await;
    let credential = with_device.credential();
    let signed_in = with_device.signed_in;
    let id = signed_in.user_id.to_string();

    h.authkit.disable_user(h.caller(), &id).await.unwrap();
    assert!(matches!(
        h.authkit
            .sign_in_with_device(h.caller(), &credential, &laptop())
            .await,
        Err(AuthError::DeviceSignInRefused)
    ));
    let sessions = h.authkit.user_sessions(h.caller(), &id).await.unwrap();
    assert!(
        sessions.iter().all(|s| s.revoked_at.is_some()),
        "every session is revoked and none was opened: {sessions:?}"
    );

    h.authkit.enable_user(h.caller(), &id).await.unwrap();
    let again = h
        .authkit
        .sign_in_with_device(h.caller(), &credential, &laptop())
        .await
        .unwrap();
    assert_eq!(again.user_id, signed_in.user_id);
}

#[tokio::test]
async fn a_disabled_user_who_answers_right_is_told_and_nothing_is_written() {
    let h = Harness::new().await;
    let first = h.sign_in("b@example.com").await;
    h.authkit
        .disable_user(h.caller(), first.user_id.as_str())
        .await
        .unwrap();
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("B@example.com"))
        .await
        .expect("a start reveals nothing");
    let refused = h
        .authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &h.sender.last_secret())
        .await;
    assert!(
        matches!(refused, Err(AuthError::UserDisabled)),
        "{refused:?}"
    );
    let sessions = h
        .authkit
        .user_sessions(h.caller(), first.user_id.as_str())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1, "no session for a disabled user");
}

#[tokio::test]
async fn an_erased_users_device_and_tokens_no_longer_work() {
    let h = Harness::new().await;
    let with_device = h.sign_in_with_device("c@example.com", None, true).await;
    let credential = with_device.credential();
    let signed_in = with_device.signed_in;
    let id = signed_in.user_id.to_string();
    h.authkit.erase_user(h.caller(), &id).await.unwrap();
    assert!(matches!(
        h.authkit.user(h.caller(), &id).await,
        Err(AuthError::UserNotFound)
    ));
    assert!(matches!(
        h.authkit
            .sign_in_with_device(h.caller(), &credential, &laptop())
            .await,
        Err(AuthError::DeviceSignInRefused)
    ));
    assert!(h
        .authkit
        .authenticate_live_access_token(&h.tenant.id, &signed_in.tokens.access_token)
        .await
        .is_err());
    assert!(matches!(
        h.authkit.erase_user(h.caller(), &id).await,
        Err(AuthError::UserNotFound)
    ));
}

#[tokio::test]
async fn a_phone_number_silent_longer_than_the_policy_signs_in_as_a_new_user() {
    let h = Harness::new().await;
    let phone = "+14155550142";
    let first = h.sign_in(phone).await;
    h.clock.advance(170 * 86_400);
    let within = h.sign_in(phone).await;
    assert_eq!(
        within.user_id, first.user_id,
        "used within 180 days: the same user"
    );

    h.clock.advance(181 * 86_400);
    let recycled = h.sign_in(phone).await;
    assert_ne!(recycled.user_id, first.user_id, "the number's new holder");
    assert!(recycled.is_new_user);
    let previous = h
        .authkit
        .user(h.caller(), first.user_id.as_str())
        .await
        .unwrap();
    assert!(previous.identifier_reassigned_at.is_some(), "{previous:?}");
    let found = h.authkit.find_user(h.caller(), phone).await.unwrap();
    assert_eq!(found.id, recycled.user_id);
    let kinds: Vec<_> = h.recent_audit(20).await.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&crate::event::EventKind::IdentifierReassigned));
}

#[tokio::test]
async fn email_addresses_and_tenants_that_opt_out_keep_their_user_however_long_the_silence() {
    let policy = crate::tenant::TenantPolicy {
        phone_reassignment_after_days: None,
        ..Default::default()
    };
    let h = Harness::with_policy(policy).await;
    let phone = h.sign_in("+14155550143").await;
    let email = h.sign_in("d@example.com").await;
    h.clock.advance(3 * 365 * 86_400);
    assert_eq!(h.sign_in("+14155550143").await.user_id, phone.user_id);
    let default_policy = Harness::new().await;
    let first = default_policy.sign_in("e@example.com").await;
    default_policy.clock.advance(3 * 365 * 86_400);
    assert_eq!(
        default_policy.sign_in("e@example.com").await.user_id,
        first.user_id
    );
    assert_eq!(h.sign_in("d@example.com").await.user_id, email.user_id);
}

#[tokio::test]
async fn a_signed_in_user_moves_to_an_identifier_they_prove_and_only_then() {
    let h = Harness::new().await;
    let signed_in = h.sign_in("f@example.com").await;
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &signed_in.tokens.access_token)
        .unwrap();
    let started = h
        .authkit
        .start_identifier_change(h.caller(), &claims, "+14155550177")
        .await
        .unwrap();
    let code = h.sender.last_secret();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(h
        .authkit
        .verify_identifier_change(h.caller(), &claims, started.id.as_str(), wrong)
        .await
        .is_err());
    let changed = h
        .authkit
        .verify_identifier_change(h.caller(), &claims, started.id.as_str(), &code)
        .await
        .unwrap();
    assert_eq!(
        (
            changed.identifier.as_str(),
            changed.second_identifier.as_ref().map(|i| i.as_str())
        ),
        ("f@example.com", Some("+14155550177")),
        "a number joins the address"
    );
    for either in ["+14155550177", "F@example.com"] {
        assert_eq!(
            h.sign_in(either).await.user_id,
            signed_in.user_id,
            "either identifier signs in the same user"
        );
    }

    // Changing the address replaces the address only.
    let moved = h.prove_identifier(&claims, "f@example.org").await.unwrap();
    assert_eq!(
        moved
            .identifiers()
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>(),
        ["f@example.org", "+14155550177"]
    );
    assert_eq!(h.sign_in("+14155550177").await.user_id, signed_in.user_id);
    assert_ne!(
        h.sign_in("f@example.com").await.user_id,
        signed_in.user_id,
        "the old address is free: it makes a new user"
    );

    // One of two can be removed, never the last.
    let email_only = h
        .authkit
        .remove_identifier(h.caller(), &claims, IdentifierKind::Phone)
        .await
        .unwrap();
    assert_eq!(email_only.identifiers().len(), 1);
    assert!(matches!(
        h.authkit
            .remove_identifier(h.caller(), &claims, IdentifierKind::Email)
            .await,
        Err(AuthError::LastIdentifier)
    ));
    assert!(matches!(
        h.authkit
            .remove_identifier(h.caller(), &claims, IdentifierKind::Phone)
            .await,
        Err(AuthError::IdentifierNotHeld)
    ));
    assert_ne!(
        h.sign_in("+14155550177").await.user_id,
        signed_in.user_id,
        "a removed number signs in someone new"
    );

    // A proof started by one user proves nothing for another, and a taken identifier is
    // refused after the proof.
    let other = h.sign_in("g@example.com").await;
    let other_claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &other.tokens.access_token)
        .unwrap();
    let started = h
        .authkit
        .start_identifier_change(h.caller(), &claims, "+14155550188")
        .await
        .unwrap();
    assert!(matches!(
        h.authkit
            .verify_identifier_change(
                h.caller(),
                &other_claims,
                started.id.as_str(),
                &h.sender.last_secret()
            )
            .await,
        Err(AuthError::ChallengeNotFound)
    ));
    let taken = h
        .authkit
        .start_identifier_change(h.caller(), &other_claims, "+14155550177")
        .await
        .unwrap();
    assert!(matches!(
        h.authkit
            .verify_identifier_change(
                h.caller(),
                &other_claims,
                taken.id.as_str(),
                &h.sender.last_secret()
            )
            .await,
        Err(AuthError::IdentifierTaken)
    ));

    // An old sign-in cannot move the account.
    h.clock.advance(11 * 60);
    assert!(matches!(
        h.authkit
            .start_identifier_change(h.caller(), &other_claims, "h@example.com")
            .await,
        Err(AuthError::StepUpRequired)
    ));
}

#[tokio::test]
async fn erasure_takes_the_users_pending_challenges_and_leaves_others() {
    let h = Harness::new().await;
    let signed_in = h.sign_in("h@example.com").await;
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &signed_in.tokens.access_token)
        .unwrap();
    let sign_in = h
        .authkit
        .start_sign_in(h.caller(), code_for("H@example.com"))
        .await
        .unwrap();
    let proof = h
        .authkit
        .start_identifier_change(h.caller(), &claims, "+14155550199")
        .await
        .unwrap();
    let someone_elses = h
        .authkit
        .start_sign_in(h.caller(), code_for("i@example.com"))
        .await
        .unwrap();
    h.authkit
        .erase_user(h.caller(), signed_in.user_id.as_str())
        .await
        .unwrap();
    let pending = |id: &crate::challenge::ChallengeId| {
        let id = id.clone();
        let challenges = h.stores.challenges.clone();
        let tenant = h.tenant.id.clone();
        async move { challenges.get(&tenant, &id).await.unwrap() }
    };
    assert_eq!(pending(&sign_in.id).await, None, "the sign-in in flight");
    assert_eq!(
        pending(&proof.id).await,
        None,
        "the contact proof in flight"
    );
    assert!(pending(&someone_elses.id).await.is_some());
}

#[tokio::test]
async fn a_silent_number_goes_to_a_new_user_even_when_its_owner_signs_in_by_email() {
    let h = Harness::with_policy(crate::tenant::TenantPolicy {
        phone_reassignment_after_days: Some(30),
        ..Default::default()
    })
    .await;
    let signed_in = h.sign_in("j@example.com").await;
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &signed_in.tokens.access_token)
        .unwrap();
    h.prove_identifier(&claims, "+14155550155").await.unwrap();
    for _ in 0..3 {
        h.clock.advance(20 * 86_400);
        assert_eq!(h.sign_in("j@example.com").await.user_id, signed_in.user_id);
    }
    let by_number = h.sign_in("+14155550155").await;
    assert_ne!(
        by_number.user_id, signed_in.user_id,
        "sign-ins by the address say nothing about who holds the number now"
    );
    let kept = h
        .authkit
        .user(h.caller(), signed_in.user_id.as_str())
        .await
        .unwrap();
    assert_eq!(
        kept.identifiers()
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>(),
        ["j@example.com"],
        "the previous user keeps the address, and nothing of them is the new holder's"
    );
    assert_eq!(h.sign_in("j@example.com").await.user_id, signed_in.user_id);
}
