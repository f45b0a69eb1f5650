//! Service behaviour end to end over the embedded store.

use super::testing::{code_for, laptop, Harness, WithDevice, REDIRECT};
use super::{RequestedKind, StartRequest};
use crate::device::Fingerprint;
use crate::error::AuthError;
use crate::event::EventKind;
use crate::identifier::Channel;
use crate::rate_limit::Scope;
use crate::tenant::{KeyKind, TenantPolicy};
use crate::token::{self, RefreshToken};

#[tokio::test]
async fn a_code_signs_a_new_user_in_and_the_same_user_again_later() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("Jane@Example.com"))
        .await
        .unwrap();
    assert_eq!(started.masked_destination, "J***@example.com");
    let code = h.sender.last_secret();
    assert_eq!(code.len(), 6);
    let first = h
        .authkit
        .sign_in_with_answer(h.caller(), started.id.as_str(), &code)
        .await
        .unwrap();
    assert!(first.is_new_user);
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &first.tokens.access_token)
        .unwrap();
    assert_eq!(claims.sub, first.user_id);
    assert_eq!(claims.amr, vec!["otp", "email"]);

    let again = h
        .authkit
        .start_sign_in(h.caller(), code_for("Jane@example.com"))
        .await
        .unwrap();
    let second = h
        .authkit
        .sign_in_with_answer(h.caller(), again.id.as_str(), &h.sender.last_secret())
        .await
        .unwrap();
    assert!(!second.is_new_user);
    assert_eq!(second.user_id, first.user_id);
}

#[tokio::test]
async fn a_verified_challenge_cannot_be_verified_again() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let code = h.sender.last_secret();
    h.authkit
        .verify_answer(h.caller(), started.id.as_str(), &code)
        .await
        .unwrap();
    let again = h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), &code)
        .await;
    assert!(matches!(again, Err(AuthError::ChallengeUsed)), "{again:?}");
}

#[tokio::test]
async fn five_wrong_answers_exhaust_a_challenge_even_for_the_right_code() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("+14155552671"))
        .await
        .unwrap();
    let code = h.sender.last_secret();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in (1..5).rev() {
        let result = h
            .authkit
            .verify_answer(h.caller(), started.id.as_str(), wrong)
            .await;
        assert!(
            matches!(result, Err(AuthError::WrongAnswer { remaining_attempts }) if remaining_attempts == remaining),
            "{result:?}"
        );
    }
    let fifth = h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), wrong)
        .await;
    assert!(
        matches!(fifth, Err(AuthError::ChallengeExhausted)),
        "{fifth:?}"
    );
    let right = h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), &code)
        .await;
    assert!(
        matches!(right, Err(AuthError::ChallengeExhausted)),
        "{right:?}"
    );
}

#[tokio::test]
async fn malformed_answers_are_refused_without_using_an_attempt() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    for _ in 0..10 {
        let result = h
            .authkit
            .verify_answer(h.caller(), started.id.as_str(), "12ab56")
            .await;
        assert!(matches!(result, Err(AuthError::MalformedAnswer)));
    }
    let code = h.sender.last_secret();
    assert!(h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), &code)
        .await
        .is_ok());
}

#[tokio::test]
async fn an_expired_challenge_refuses_the_right_code() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    h.clock.advance(600);
    let result = h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), &h.sender.last_secret())
        .await;
    assert!(
        matches!(result, Err(AuthError::ChallengeExpired)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_resend_waits_replaces_the_secret_and_is_capped() {
    let h = Harness::new().await;
    let first = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let first_code = h.sender.last_secret();
    let too_soon = h.authkit.resend(h.caller(), first.id.as_str()).await;
    assert!(
        matches!(
            too_soon,
            Err(AuthError::ResendTooSoon {
                retry_after_secs: 30
            })
        ),
        "{too_soon:?}"
    );

    let mut current = first.clone();
    for _ in 0..3 {
        h.clock.advance(30);
        current = h
            .authkit
            .resend(h.caller(), current.id.as_str())
            .await
            .unwrap();
    }
    h.clock.advance(30);
    let capped = h.authkit.resend(h.caller(), current.id.as_str()).await;
    assert!(
        matches!(capped, Err(AuthError::ResendLimitReached)),
        "{capped:?}"
    );

    let old = h
        .authkit
        .verify_answer(h.caller(), first.id.as_str(), &first_code)
        .await;
    assert!(
        matches!(old, Err(AuthError::ChallengeUsed)),
        "the superseded secret still worked: {old:?}"
    );
    assert!(h
        .authkit
        .verify_answer(h.caller(), current.id.as_str(), &h.sender.last_secret())
        .await
        .is_ok());
}

#[tokio::test]
async fn a_failed_delivery_keeps_the_challenge_resendable_at_once_and_says_which() {
    let h = Harness::new().await;
    h.sender
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let result = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await;
    let Err(AuthError::DeliveryFailed {
        challenge_id,
        retry_after_secs: 0,
        ..
    }) = result
    else {
        panic!("{result:?}")
    };
    let events = h.recent_audit(10).await;
    // Within one second the log orders entries by id (as DynamoDB does).
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["challenge_started", "delivery_failed"]);
    assert_eq!(events[0].challenge_id.as_ref(), Some(&challenge_id));

    // The provider is back: the resend goes out at once, without waiting for the cooldown.
    h.sender
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let resent = h
        .authkit
        .resend(h.caller(), challenge_id.as_str())
        .await
        .unwrap();
    h.authkit
        .sign_in_with_answer(h.caller(), resent.id.as_str(), &h.sender.last_secret())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_magic_link_page_post_returns_a_result_the_app_exchanges_once() {
    let h = Harness::new().await;
    let request = StartRequest {
        identifier: "a@example.com",
        channel: None,
        kind: RequestedKind::MagicLink,
        redirect_uri: Some(REDIRECT),
        code_challenge: None,
        response_mode: Default::default(),
    };
    let started = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
    let link = h.sender.last_link();
    assert!(link.starts_with("https://auth.example.com/v1/auth/link?tenant=acme&challenge_id="));
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
    assert!(confirmed.redirect_to.starts_with(REDIRECT));
    let result = redirect
        .fragment()
        .and_then(|fragment| fragment.strip_prefix("authkit_result="))
        .unwrap()
        .to_string();
    let signed_in = h
        .authkit
        .sign_in_with_result(h.caller(), &result, None)
        .await
        .unwrap();
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &signed_in.tokens.access_token)
        .unwrap();
    assert_eq!(claims.amr, vec!["magic_link", "email"]);
    assert!(matches!(
        h.authkit
            .sign_in_with_result(h.caller(), &result, None)
            .await,
        Err(AuthError::InvalidSignInResult)
    ));
    assert!(matches!(
        h.authkit
            .exchange_result(h.caller(), &result, None, None)
            .await,
        Err(AuthError::InvalidSignInResult)
    ));
}

#[tokio::test]
async fn magic_links_only_return_to_allowed_redirects() {
    let h = Harness::new().await;
    let request = StartRequest {
        identifier: "a@example.com",
        channel: None,
        kind: RequestedKind::MagicLink,
        redirect_uri: Some("https://evil.example/cb"),
        code_challenge: None,
        response_mode: Default::default(),
    };
    assert!(matches!(
        h.authkit.start_sign_in(h.caller(), request).await,
        Err(AuthError::RedirectNotAllowed)
    ));
    assert_eq!(h.sender.count(), 0);
}

#[tokio::test]
async fn signing_out_revokes_the_session_and_junk_is_not_an_error() {
    let h = Harness::new().await;
    let refresh = h
        .sign_in("a@example.com")
        .await
        .tokens
        .refresh_token
        .reveal();
    h.authkit.revoke_session(h.caller(), "junk").await.unwrap();
    h.authkit
        .revoke_session(h.caller(), &refresh)
        .await
        .unwrap();
    assert!(matches!(
        h.authkit.refresh(h.caller(), &refresh).await,
        Err(AuthError::InvalidRefreshToken)
    ));
    assert!(RefreshToken::parse(&refresh).is_ok());
}

#[tokio::test]
async fn starts_for_one_identifier_are_rate_limited() {
    let h = Harness::new().await;
    for _ in 0..5 {
        h.authkit
            .start_sign_in(h.caller(), code_for("a@example.com"))
            .await
            .unwrap();
    }
    let sixth = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await;
    assert!(
        matches!(sixth, Err(AuthError::RateLimited(tripped)) if tripped.scope == Scope::Identifier),
        "{sixth:?}"
    );
    assert_eq!(h.sender.count(), 5);
    h.clock.advance(600);
    assert!(h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .is_ok());
}

#[tokio::test]
async fn an_identifier_is_locked_after_its_failure_cap_for_a_growing_time() {
    let policy = TenantPolicy {
        identifier_failure_cap: 2,
        max_attempts: 1,
        ..TenantPolicy::default()
    };
    let h = Harness::with_policy(policy).await;
    for _ in 0..2 {
        let started = h
            .authkit
            .start_sign_in(h.caller(), code_for("a@example.com"))
            .await
            .unwrap();
        let code = h.sender.last_secret();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let _ = h
            .authkit
            .verify_answer(h.caller(), started.id.as_str(), wrong)
            .await;
    }
    let locked = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await;
    assert!(
        matches!(
            locked,
            Err(AuthError::IdentifierLocked {
                retry_after_secs: 900
            })
        ),
        "{locked:?}"
    );
    // Another identifier is not affected.
    assert!(h
        .authkit
        .start_sign_in(h.caller(), code_for("b@example.com"))
        .await
        .is_ok());
    h.clock.advance(900);
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let code = h.sender.last_secret();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let _ = h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), wrong)
        .await;
    let locked_longer = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await;
    assert!(
        matches!(
            locked_longer,
            Err(AuthError::IdentifierLocked {
                retry_after_secs: 1_800
            })
        ),
        "{locked_longer:?}"
    );
}

#[tokio::test]
async fn api_keys_resolve_to_their_tenant_and_kind() {
    let h = Harness::new().await;
    let created = h
        .authkit
        .create_tenant(super::NewTenant {
            id: crate::tenant::TenantId::parse("globex").unwrap(),
            name: "Globex".into(),
            allowed_redirect_uris: vec![],
            policy: TenantPolicy::default(),
        })
        .await
        .unwrap();
    let (tenant, record) = h
        .authkit
        .authenticate_api_key(&created.secret_key.reveal())
        .await
        .unwrap();
    assert_eq!(
        (tenant.id.as_str(), record.kind),
        ("globex", KeyKind::Secret)
    );
    let (_, record) = h
        .authkit
        .authenticate_api_key(&created.publishable_key.reveal())
        .await
        .unwrap();
    assert_eq!(record.kind, KeyKind::Publishable);
    let forged = created
        .publishable_key
        .reveal()
        .replace("ak_pub_", "ak_sec_");
    assert!(matches!(
        h.authkit.authenticate_api_key(&forged).await,
        Err(AuthError::InvalidApiKey)
    ));
    assert!(matches!(
        h.authkit.authenticate_api_key("nonsense").await,
        Err(AuthError::InvalidApiKey)
    ));
}

#[tokio::test]
async fn a_trusted_device_signs_in_while_its_fingerprint_still_matches() {
    let h = Harness::new().await;
    let WithDevice {
        signed_in,
        claims,
        bound,
    } = h
        .sign_in_with_device("a@example.com", Some("Work laptop"), true)
        .await;
    let credential = bound.credential.reveal();
    let again = h
        .authkit
        .sign_in_with_device(h.caller(), &credential, &laptop())
        .await
        .unwrap();
    assert_eq!(again.user_id, signed_in.user_id);
    let device_claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &again.tokens.access_token)
        .unwrap();
    assert_eq!(device_claims.device_id.as_ref(), Some(&bound.device.id));

    let stranger = Fingerprint {
        platform: Some("iPhone".into()),
        screen: Some("390x844".into()),
        timezone: Some("Asia/Tokyo".into()),
        ..Fingerprint::default()
    };
    assert!(matches!(
        h.authkit
            .sign_in_with_device(h.caller(), &credential, &stranger)
            .await,
        Err(AuthError::DeviceSignInRefused)
    ));

    assert_eq!(
        h.authkit
            .list_devices(h.caller(), &claims)
            .await
            .unwrap()
            .len(),
        1
    );
    h.authkit
        .revoke_device(h.caller(), &claims, bound.device.id.as_str())
        .await
        .unwrap();
    assert!(matches!(
        h.authkit
            .sign_in_with_device(h.caller(), &credential, &laptop())
            .await,
        Err(AuthError::DeviceSignInRefused)
    ));
    assert!(matches!(
        h.authkit
            .revoke_device(h.caller(), &claims, bound.device.id.as_str())
            .await,
        Err(AuthError::DeviceNotFound)
    ));
}

#[tokio::test]
async fn an_untrusted_device_cannot_skip_the_code() {
    let h = Harness::new().await;
    let untrusted = h.sign_in_with_device("a@example.com", None, false).await;
    let result = h
        .authkit
        .sign_in_with_device(h.caller(), &untrusted.credential(), &laptop())
        .await;
    assert!(matches!(result, Err(AuthError::DeviceSignInRefused)));
}

#[tokio::test]
async fn audit_events_carry_masked_identifiers_and_no_secrets() {
    let h = Harness::new().await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("jane.doe@example.com"))
        .await
        .unwrap();
    let code = h.sender.last_secret();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // A second apart each: within one second the log orders entries by id (as DynamoDB).
    h.clock.advance(1);
    let _ = h
        .authkit
        .verify_answer(h.caller(), started.id.as_str(), wrong)
        .await;
    h.clock.advance(1);
    h.authkit
        .verify_answer(h.caller(), started.id.as_str(), &code)
        .await
        .unwrap();
    let events = h.recent_audit(50).await;
    let kinds: Vec<EventKind> = events.iter().rev().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::ChallengeStarted,
            EventKind::AnswerWrong,
            EventKind::ChallengeVerified
        ]
    );
    let dump = format!("{events:?}");
    assert!(
        !dump.contains("jane.doe@"),
        "unmasked identifier in audit: {dump}"
    );
    assert!(!dump.contains(&code), "code in audit");
    assert!(events
        .iter()
        .all(|e| e.ip.as_deref() == Some("198.51.100.7")));
}

#[tokio::test]
async fn tokens_for_one_tenant_are_refused_for_another() {
    let h = Harness::new().await;
    let access = h.sign_in("a@example.com").await.tokens.access_token;
    let other = crate::tenant::TenantId::parse("globex").unwrap();
    assert!(h
        .authkit
        .authenticate_access_token(&other, &access)
        .is_err());
    assert_eq!(
        token::unverified_audience(&access),
        Some(h.tenant.id.clone())
    );
}

#[tokio::test]
async fn a_channel_the_deployment_does_not_deliver_on_is_refused_before_anything_happens() {
    let h = Harness::new().await;
    let request = StartRequest {
        identifier: "+14155552671",
        channel: Some(Channel::Whatsapp),
        kind: RequestedKind::Code,
        redirect_uri: None,
        code_challenge: None,
        response_mode: Default::default(),
    };
    let refused = h.authkit.start_sign_in(h.caller(), request).await;
    assert!(matches!(
        refused,
        Err(AuthError::ChannelUnavailable(Channel::Whatsapp))
    ));
    assert_eq!(h.sender.count(), 0);
    let events = h.recent_audit(10).await;
    assert!(
        events.iter().all(|e| e.kind != EventKind::ChallengeStarted),
        "no challenge was started"
    );
}
