//! Self-service sign-up through the service: the operator's mode, the owner made with
//! the tenant, and a wrong code that creates nothing.

use super::testing::Harness;
use super::{Actor, PageRequest, SignupMode};
use crate::error::AuthError;
use crate::member::{Role, CONSOLE_TENANT};

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

#[tokio::test]
async fn off_refuses_both_steps() {
    let h = Harness::new().await;
    with_console(&h).await;
    let off = h.service_with_signup(SignupMode::Off);
    let started = off
        .start_signup(None, "jane@example.com", "Jane's shop")
        .await;
    assert!(matches!(started, Err(AuthError::SignupDisabled)));
    let verified = off.verify_signup(None, "c", "123456", "Jane's shop").await;
    assert!(matches!(verified, Err(AuthError::SignupDisabled)));
    assert_eq!(h.sender.count(), 0, "nothing was sent");
}

#[tokio::test]
async fn open_sign_up_creates_the_tenant_with_the_verified_user_as_owner() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let started = open
        .start_signup(Some("198.51.100.8"), "jane@example.com", "Acme")
        .await
        .unwrap();
    let signed_up = open
        .verify_signup(
            Some("198.51.100.8"),
            started.id.as_str(),
            &h.sender.last_secret(),
            "Acme",
        )
        .await
        .unwrap();
    let tenant = &signed_up.created.tenant;
    assert_ne!(
        tenant.id, h.tenant.id,
        "`acme` was taken: a suffix made it unique"
    );
    assert!(tenant.id.as_str().starts_with("acme-"));
    assert_eq!(tenant.name, "Acme");
    let memberships = open
        .memberships(&signed_up.signed_in.user_id)
        .await
        .unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].tenant, tenant.id);
    assert_eq!(memberships[0].role, Role::Owner);
}

#[tokio::test]
async fn a_wrong_code_creates_no_tenant() {
    let h = Harness::new().await;
    with_console(&h).await;
    let open = h.service_with_signup(SignupMode::Open);
    let before = tenant_count(&h).await;
    let started = open
        .start_signup(None, "jane@example.com", "Jane")
        .await
        .unwrap();
    let wrong = if h.sender.last_secret() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let verified = open
        .verify_signup(None, started.id.as_str(), wrong, "Jane")
        .await;
    assert!(
        matches!(verified, Err(AuthError::WrongAnswer { .. })),
        "{:?}",
        verified.err()
    );
    assert_eq!(tenant_count(&h).await, before);
}

#[tokio::test]
async fn invite_only_needs_a_pending_invitation_once_the_address_is_proved() {
    let h = Harness::new().await;
    with_console(&h).await;
    let invite_only = h.service_with_signup(SignupMode::InviteOnly);
    // The start answers alike for everyone: nothing says who is invited.
    let started = invite_only
        .start_signup(None, "stranger@example.com", "Stranger")
        .await
        .unwrap();
    let before = tenant_count(&h).await;
    let refused = invite_only
        .verify_signup(
            None,
            started.id.as_str(),
            &h.sender.last_secret(),
            "Stranger",
        )
        .await;
    assert!(matches!(refused, Err(AuthError::SignupNotInvited)));
    assert_eq!(tenant_count(&h).await, before);

    h.authkit
        .invite_member(
            &Actor::Operator("local".into()),
            &h.tenant.id,
            "guest@example.com",
            Role::Viewer,
        )
        .await
        .unwrap();
    let started = invite_only
        .start_signup(None, "guest@example.com", "Guest")
        .await
        .unwrap();
    let signed_up = invite_only
        .verify_signup(None, started.id.as_str(), &h.sender.last_secret(), "Guest")
        .await
        .unwrap();
    assert_eq!(signed_up.created.tenant.id.as_str(), "guest");
    assert_ne!(signed_up.created.tenant.id.as_str(), CONSOLE_TENANT);
}
