//! Self-service sign-up through the service: the operator's mode, a verify that only signs
//! in, the tenant made with its owner by the console user, retries that find the tenant
//! again, and creations counted by the console tenant's sign-up limits.

use super::testing::Harness;
use super::{Actor, AuthKit, IdempotencyKey, PageRequest, SignupMode};
use crate::delivery::{InvitationPurpose, MessageContent};
use crate::error::AuthError;
use crate::member::Role;
use crate::user::UserId;

const IP: Option<&str> = Some("198.51.100.8");

async fn with_console(h: &Harness) {
    h.authkit
        .ensure_console_tenant(&Actor::System, Vec::new())
        .await
        .unwrap();
}

async fn tenant_count(h: &Harness) -> usize {
    h.authkit
        .list_tenants(&PageRequest::parse(Some(100), None).unwrap())
        .await
        .unwrap()
        .items
        .len()
}

/// Signs `email` up to the console through both sign-up steps: the console user.
async fn signed_up(h: &Harness, service: &AuthKit, email: &str) -> UserId {
    let started = service.start_signup(IP, email, "Project").await.unwrap();
    service
        .verify_signup(IP, started.id.as_str(), &h.sender.last_secret())
        .await
        .unwrap()
        .user_id
}

#[tokio::test]
async fn off_refuses_every_step() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let user = signed_up(&h, &open, "jane@example.com").await;
    let sent = h.sender.count();
    let off = h.service_with_signup(SignupMode::Off);
    let started = off
        .start_signup(None, "jane@example.com", "Jane's shop")
        .await;
    assert!(matches!(started, Err(AuthError::SignupDisabled)));
    let verified = off.verify_signup(None, "c", "123456").await;
    assert!(matches!(verified, Err(AuthError::SignupDisabled)));
    let created = off.create_signup_tenant(&user, IP, "Jane", None).await;
    assert!(matches!(created, Err(AuthError::SignupDisabled)));
    assert_eq!(h.sender.count(), sent, "nothing more was sent");
}

#[tokio::test]
async fn the_verified_sign_in_creates_nothing_and_the_console_user_creates_the_tenant_as_owner() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let before = tenant_count(&h).await;
    let user = signed_up(&h, &open, "jane@example.com").await;
    assert_eq!(tenant_count(&h).await, before, "verifying only signs in");
    assert!(open.memberships(&user).await.unwrap().is_empty());

    let created = open
        .create_signup_tenant(&user, IP, "Acme", None)
        .await
        .unwrap();
    let tenant = &created.tenant;
    assert_ne!(
        tenant.id, h.tenant.id,
        "`acme` was taken: a suffix made it unique"
    );
    assert!(tenant.id.as_str().starts_with("acme-"));
    assert_eq!(tenant.name, "Acme");
    let memberships = open.memberships(&user).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].tenant, tenant.id);
    assert_eq!(memberships[0].role, Role::Owner);
    let audit = h.audit_of(&tenant.id, 10).await;
    let kinds: Vec<&str> = audit.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"tenant_created") && kinds.contains(&"member_role_set"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_wrong_code_signs_nobody_in() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let started = open
        .start_signup(None, "jane@example.com", "Jane")
        .await
        .unwrap();
    let wrong = if h.sender.last_secret() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let verified = open.verify_signup(None, started.id.as_str(), wrong).await;
    assert!(
        matches!(verified, Err(AuthError::WrongAnswer { .. })),
        "{:?}",
        verified.err()
    );
}

#[tokio::test]
async fn invite_only_needs_the_operators_sign_up_invitation_once_the_address_is_proved() {
    let h = Harness::new().await;
    with_console(&h).await;
    let invite_only = h.service_with_signup(SignupMode::InviteOnly);
    // Starting and verifying answer alike for everyone: nothing says who is invited.
    let stranger = signed_up(&h, &invite_only, "stranger@example.com").await;
    let before = tenant_count(&h).await;
    let refused = invite_only
        .create_signup_tenant(&stranger, None, "Stranger", None)
        .await;
    assert!(matches!(refused, Err(AuthError::SignupNotInvited)));
    assert_eq!(tenant_count(&h).await, before);

    // Outside attack (session 17, finding 5): any invitation to any tenant let its
    // address sign up, and each new tenant could invite more. A member invitation is an
    // invitation to that tenant, not to sign up.
    h.authkit
        .invite_member(
            &Actor::Operator("local".into()),
            &h.tenant.id,
            "member@example.com",
            Role::Viewer,
        )
        .await
        .unwrap();
    let member = signed_up(&h, &invite_only, "member@example.com").await;
    let refused = invite_only
        .create_signup_tenant(&member, None, "Member", None)
        .await;
    assert!(matches!(refused, Err(AuthError::SignupNotInvited)));

    h.authkit
        .invite_to_sign_up(&Actor::Operator("local".into()), "guest@example.com")
        .await
        .unwrap();
    let sent = h.sender.last();
    let MessageContent::Invitation(notice) = sent.content else {
        panic!("a sign-up invitation was sent: {:?}", sent.content);
    };
    assert_eq!(
        notice.purpose,
        InvitationPurpose::SignUp,
        "worded as a sign-up"
    );
    let guest = signed_up(&h, &invite_only, "guest@example.com").await;
    let created = invite_only
        .create_signup_tenant(&guest, None, "Guest", None)
        .await
        .unwrap();
    assert_eq!(created.tenant.id.as_str(), "guest");
    assert!(
        invite_only.accept_invitations(&guest).await.unwrap().len() == 1,
        "the sign-up invitation makes nobody a member of the console"
    );
}

#[tokio::test]
async fn the_operator_lists_and_revokes_sign_up_invitations() {
    let h = Harness::new().await;
    with_console(&h).await;
    let invite_only = h.service_with_signup(SignupMode::InviteOnly);
    let operator = Actor::Operator("local".into());
    for email in ["kept@example.com", "mistake@example.com"] {
        h.authkit.invite_to_sign_up(&operator, email).await.unwrap();
    }
    let pending = h.authkit.list_signup_invitations().await.unwrap();
    assert_eq!(pending.len(), 2);
    let mistake = pending
        .iter()
        .find(|invitation| invitation.email_masked.starts_with('m'))
        .unwrap();
    h.authkit
        .revoke_signup_invitation(&operator, mistake.id().as_str())
        .await
        .unwrap();
    assert_eq!(h.authkit.list_signup_invitations().await.unwrap().len(), 1);
    let revoked = signed_up(&h, &invite_only, "mistake@example.com").await;
    assert!(matches!(
        invite_only
            .create_signup_tenant(&revoked, None, "Mistake", None)
            .await,
        Err(AuthError::SignupNotInvited)
    ));
    let kept = signed_up(&h, &invite_only, "kept@example.com").await;
    invite_only
        .create_signup_tenant(&kept, None, "Kept", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retried_creation_answers_the_same_tenant_and_keys_and_creates_nothing_more() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let user = signed_up(&h, &open, "jane@example.com").await;
    let first = open
        .create_signup_tenant(&user, IP, "Jane's shop", None)
        .await
        .unwrap();
    let count = tenant_count(&h).await;
    // The answer was lost: the same console user asks again for the same project.
    let again = open
        .create_signup_tenant(&user, IP, "  Jane's shop ", None)
        .await
        .unwrap();
    assert_eq!(again.tenant.id, first.tenant.id);
    assert_eq!(again.secret_key.reveal(), first.secret_key.reveal());
    assert_eq!(
        again.publishable_key.reveal(),
        first.publishable_key.reveal()
    );
    assert_eq!(tenant_count(&h).await, count, "no second tenant");
    assert_eq!(open.memberships(&user).await.unwrap().len(), 1);

    // Another console user's project of the same name is theirs.
    let other = signed_up(&h, &open, "john@example.com").await;
    let theirs = open
        .create_signup_tenant(&other, IP, "Jane's shop", None)
        .await
        .unwrap();
    assert_ne!(theirs.tenant.id, first.tenant.id);

    // An explicit Idempotency-Key names the request instead of the project name.
    let key = IdempotencyKey::parse("signup-1").unwrap();
    let keyed = open
        .create_signup_tenant(&user, IP, "Second", Some(&key))
        .await
        .unwrap();
    let replayed = open
        .create_signup_tenant(&user, IP, "Second", Some(&key))
        .await
        .unwrap();
    assert_eq!(replayed.tenant.id, keyed.tenant.id);
    let reused = open
        .create_signup_tenant(&user, IP, "Third", Some(&key))
        .await;
    assert!(matches!(reused, Err(AuthError::IdempotencyKeyReused)));
}

#[tokio::test]
async fn creations_are_counted_per_console_user_and_replays_are_not() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let user = signed_up(&h, &open, "busy@example.com").await;
    for n in 0..5 {
        let name = format!("Project {n}");
        open.create_signup_tenant(&user, IP, &name, None)
            .await
            .unwrap();
        // A retry is answered from its record and spends nothing.
        open.create_signup_tenant(&user, IP, &name, None)
            .await
            .unwrap();
    }
    let count = tenant_count(&h).await;
    let refused = open
        .create_signup_tenant(&user, IP, "One too many", None)
        .await;
    assert!(
        matches!(refused, Err(AuthError::RateLimited(_))),
        "{:?}",
        refused.err()
    );
    assert_eq!(tenant_count(&h).await, count);
    h.clock.advance(24 * 3600);
    open.create_signup_tenant(&user, IP, "One too many", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retry_shows_the_keys_only_to_a_user_who_still_owns_the_tenant() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let user = signed_up(&h, &open, "jane@example.com").await;
    let created = open
        .create_signup_tenant(&user, IP, "Handed over", None)
        .await
        .unwrap();
    let tenant = &created.tenant.id;
    // Jane hands the tenant to John and leaves it.
    let john = signed_up(&h, &open, "john@example.com").await;
    let operator = Actor::Operator("local".into());
    open.restore_owner(&operator, tenant, "john@example.com")
        .await
        .unwrap();
    open.accept_invitations(&john).await.unwrap();
    open.remove_member(&Actor::Member(john.clone()), tenant, user.as_str())
        .await
        .unwrap();
    let replayed = open
        .create_signup_tenant(&user, IP, "Handed over", None)
        .await;
    assert!(
        matches!(replayed, Err(AuthError::TenantNotFound)),
        "{:?}",
        replayed.map(|created| created.tenant.id)
    );
}

/// Outside attack (session 17, finding 2): a signed-up tenant enabled SMS and raised its
/// own start limits, then sent SMS at the deployment's cost, its name as the text.
#[tokio::test]
async fn a_signed_up_tenant_sends_email_only_and_its_limits_are_the_operators() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let user = signed_up(&h, &open, "jane@example.com").await;
    let created = open
        .create_signup_tenant(&user, IP, "Jane's shop", None)
        .await
        .unwrap();
    let tenant = created.tenant;
    assert!(tenant.self_service);
    assert_eq!(
        tenant.enabled_channels,
        vec![crate::identifier::Channel::Email]
    );
    let owner = Actor::Member(user.clone());
    let patch =
        |document: serde_json::Value| crate::tenant::SettingsPatch::parse(document).unwrap();
    for (document, setting) in [
        (
            serde_json::json!({"enabled_channels": ["email", "sms"]}),
            "/enabled_channels",
        ),
        (
            serde_json::json!({"policy": {"rate_limits": {"start": []}}}),
            "/policy/rate_limits",
        ),
    ] {
        let refused = open
            .update_tenant_settings(&owner, &tenant.id, &patch(document), None)
            .await;
        assert!(
            matches!(refused, Err(AuthError::OperatorReviewRequired(s)) if s == setting),
            "{refused:?}"
        );
    }
    open.update_tenant_settings(
        &owner,
        &tenant.id,
        &patch(serde_json::json!({"name": "Jane's Shop"})),
        None,
    )
    .await
    .expect("its other settings are its own");
    let reviewed = open
        .update_tenant_settings(
            &Actor::Operator("local".into()),
            &tenant.id,
            &patch(serde_json::json!({"enabled_channels": ["email", "sms"]})),
            None,
        )
        .await
        .expect("the operator may");
    assert_eq!(reviewed.enabled_channels.len(), 2);
}
