//! Tenant members through the service: the console tenant, member tokens judged per
//! tenant and role, invitations, and the last owner.

use super::testing::{code_for, Harness};
use super::{Actor, Caller, MemberCaller, PageRequest, RequestContext};
use crate::delivery::{InvitationPurpose, MessageContent};
use crate::error::AuthError;
use crate::member::{Operation, Role, CONSOLE_TENANT};
use crate::tenant::WebOrigin;
use crate::user::UserId;
use std::sync::atomic::Ordering;

const CONSOLE_ORIGIN: &str = "https://console.example.com";

/// The console tenant, created once per harness.
async fn console(h: &Harness) -> crate::tenant::Tenant {
    let origins = vec![WebOrigin::parse(CONSOLE_ORIGIN).unwrap()];
    h.authkit
        .ensure_console_tenant(&Actor::System, origins)
        .await
        .unwrap();
    h.authkit.managed_tenant(CONSOLE_TENANT).await.unwrap()
}

/// Signs `email` in to the console: their access token and user id.
async fn console_sign_in(h: &Harness, email: &str) -> (String, UserId) {
    let console = console(h).await;
    let caller = Caller {
        tenant: &console,
        ip: Some("198.51.100.8"),
    };
    let started = h
        .authkit
        .start_sign_in(caller, code_for(email))
        .await
        .unwrap();
    let signed_in = h
        .authkit
        .sign_in_with_answer(caller, started.id.as_str(), &h.sender.last_secret())
        .await
        .unwrap();
    (signed_in.tokens.access_token, signed_in.user_id)
}

/// `email` as a member of the harness's tenant with `role`: invited by an operator,
/// signed in to the console, accepted.
async fn member_with(h: &Harness, email: &str, role: Role) -> (String, UserId) {
    let operator = Actor::Operator("local".into());
    h.authkit
        .invite_member(&operator, &h.tenant.id, email, role)
        .await
        .unwrap();
    let (token, user) = console_sign_in(h, email).await;
    h.authkit.accept_invitations(&user).await.unwrap();
    (token, user)
}

/// A second tenant beside the harness's.
async fn globex(h: &Harness) -> crate::tenant::TenantId {
    let settings = crate::tenant::TenantSettings::new(
        "Globex".into(),
        Vec::new(),
        crate::tenant::TenantPolicy::default(),
    );
    let globex = crate::tenant::TenantId::parse("globex").unwrap();
    h.authkit
        .create_tenant_as(
            &Actor::Operator("local".into()),
            globex.clone(),
            settings,
            None,
        )
        .await
        .unwrap();
    globex
}

async fn as_member(h: &Harness, token: &str, tenant: &str) -> Result<MemberCaller, AuthError> {
    h.authkit
        .authenticate_member(token, Some(tenant), &RequestContext::default())
        .await
}

#[tokio::test]
async fn the_console_tenant_is_created_once_with_email_only() {
    let h = Harness::new().await;
    let origins = vec![WebOrigin::parse(CONSOLE_ORIGIN).unwrap()];
    let first = h
        .authkit
        .ensure_console_tenant(&Actor::System, origins.clone())
        .await
        .unwrap();
    assert!(
        first.is_some(),
        "the first call creates it and shows its keys"
    );
    let again = h
        .authkit
        .ensure_console_tenant(&Actor::System, origins)
        .await
        .unwrap();
    assert!(again.is_none(), "later calls change nothing");
    let console = h.authkit.managed_tenant(CONSOLE_TENANT).await.unwrap();
    assert_eq!(
        console.enabled_channels,
        vec![crate::identifier::Channel::Email]
    );
}

#[tokio::test]
async fn an_invited_address_becomes_a_member_when_it_signs_in_and_accepts() {
    let h = Harness::new().await;
    let (token, user) = member_with(&h, "dev@example.com", Role::Developer).await;
    let member = as_member(&h, &token, "acme").await.unwrap();
    assert_eq!(member.role, Role::Developer);
    assert_eq!(member.user, user);
    assert!(member.permit(Operation::ManageKeys).is_ok());
    assert!(matches!(
        member.permit(Operation::ChangeSettings),
        Err(AuthError::RoleForbids)
    ));
    let tenants = h.authkit.memberships(&user).await.unwrap();
    assert_eq!(tenants.len(), 1);
    let events = h.audit_of(&h.tenant.id, 10).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"member_invited") && kinds.contains(&"member_role_set"));
}

#[tokio::test]
async fn someone_signed_in_to_the_console_without_an_invitation_is_member_of_nothing() {
    let h = Harness::new().await;
    let (token, user) = console_sign_in(&h, "stranger@example.com").await;
    assert!(h
        .authkit
        .accept_invitations(&user)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        as_member(&h, &token, "acme").await,
        Err(AuthError::TenantNotFound)
    ));
    assert!(
        matches!(
            as_member(&h, &token, "no-such-tenant").await,
            Err(AuthError::TenantNotFound)
        ),
        "a tenant the member is not on reads like one that does not exist"
    );
}

#[tokio::test]
async fn a_member_token_is_judged_by_the_console_tenants_origins() {
    let h = Harness::new().await;
    let (token, _) = member_with(&h, "viewer@example.com", Role::Viewer).await;
    let from = |origin| RequestContext {
        origin: Some(origin),
        ip: None,
    };
    let allowed = h
        .authkit
        .authenticate_member(&token, Some("acme"), &from(CONSOLE_ORIGIN))
        .await
        .unwrap();
    assert_eq!(allowed.allowed_origin.unwrap().as_str(), CONSOLE_ORIGIN);
    assert!(matches!(
        h.authkit
            .authenticate_member(&token, Some("acme"), &from("https://evil.example"))
            .await,
        Err(AuthError::OriginNotAllowed)
    ));
}

#[tokio::test]
async fn an_end_users_token_of_another_tenant_is_no_member_token() {
    let h = Harness::new().await;
    console(&h).await;
    let signed_in = h.sign_in("user@example.com").await;
    assert!(matches!(
        as_member(&h, &signed_in.tokens.access_token, "acme").await,
        Err(AuthError::InvalidAccessToken)
    ));
}

#[tokio::test]
async fn the_last_owner_can_be_neither_removed_nor_demoted() {
    let h = Harness::new().await;
    let (_, owner) = member_with(&h, "owner@example.com", Role::Owner).await;
    let actor = Actor::Member(owner.clone());
    let tenant = &h.tenant.id;
    assert!(matches!(
        h.authkit
            .remove_member(&actor, tenant, owner.as_str())
            .await,
        Err(AuthError::LastOwner)
    ));
    assert!(matches!(
        h.authkit
            .set_member_role(&actor, tenant, owner.as_str(), Role::Admin)
            .await,
        Err(AuthError::LastOwner)
    ));
    let (_, second) = member_with(&h, "second@example.com", Role::Viewer).await;
    h.authkit
        .set_member_role(&actor, tenant, second.as_str(), Role::Owner)
        .await
        .unwrap();
    h.authkit
        .remove_member(&actor, tenant, owner.as_str())
        .await
        .unwrap();
    let page = PageRequest::parse(None, None).unwrap();
    let members = h.authkit.list_members(tenant, &page).await.unwrap();
    assert_eq!(members.items.len(), 1);
    assert_eq!(members.items[0].role, Role::Owner);
    assert!(matches!(
        h.authkit.remove_member(&actor, tenant, "usr_nobody").await,
        Err(AuthError::MemberNotFound)
    ));
}

#[tokio::test]
async fn accepting_an_invitation_never_lowers_a_role() {
    let h = Harness::new().await;
    let (_, user) = member_with(&h, "admin@example.com", Role::Admin).await;
    h.authkit
        .invite_member(
            &Actor::Operator("local".into()),
            &h.tenant.id,
            "ADMIN@example.com",
            Role::Viewer,
        )
        .await
        .unwrap();
    let memberships = h.authkit.accept_invitations(&user).await.unwrap();
    assert_eq!(memberships[0].role, Role::Admin);
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once() {
    let h = Harness::new().await;
    let (_, owner) = member_with(&h, "owner@example.com", Role::Owner).await;
    let (token, viewer) = member_with(&h, "viewer@example.com", Role::Viewer).await;
    as_member(&h, &token, "acme").await.unwrap();
    h.authkit
        .remove_member(&Actor::Member(owner), &h.tenant.id, viewer.as_str())
        .await
        .unwrap();
    assert!(matches!(
        as_member(&h, &token, "acme").await,
        Err(AuthError::TenantNotFound)
    ));
}

#[tokio::test]
async fn an_invitation_is_emailed_with_the_tenant_role_and_console() {
    let h = Harness::new().await;
    console(&h).await;
    let invited = h
        .authkit
        .invite_member(
            &Actor::Operator("local".into()),
            &h.tenant.id,
            "new@example.com",
            Role::Admin,
        )
        .await
        .unwrap();
    assert!(invited.notified);
    let sent = h.sender.last();
    assert_eq!(sent.to.as_str(), "new@example.com");
    assert_eq!(sent.tenant_name, h.tenant.name);
    assert_eq!(sent.channel, crate::identifier::Channel::Email);
    let MessageContent::Invitation(notice) = sent.content else {
        panic!("an invitation was sent: {:?}", sent.content);
    };
    assert_eq!(notice.role, Role::Admin);
    assert_eq!(notice.console_url.as_deref(), Some(CONSOLE_ORIGIN));
    assert_eq!(notice.purpose, InvitationPurpose::Membership);
}

#[tokio::test]
async fn an_invitation_whose_email_fails_still_stands_and_says_so() {
    let h = Harness::new().await;
    h.sender.fail.store(true, Ordering::SeqCst);
    let invited = h
        .authkit
        .invite_member(
            &Actor::Operator("local".into()),
            &h.tenant.id,
            "dev@example.com",
            Role::Developer,
        )
        .await
        .unwrap();
    assert!(!invited.notified);
    h.sender.fail.store(false, Ordering::SeqCst);
    let (token, user) = console_sign_in(&h, "dev@example.com").await;
    h.authkit.accept_invitations(&user).await.unwrap();
    assert_eq!(
        as_member(&h, &token, "acme").await.unwrap().role,
        Role::Developer
    );
}

/// Erases a console user as the console tenant's secret key does.
async fn erase_console_user(h: &Harness, user: &UserId) -> Result<(), AuthError> {
    let console = console(h).await;
    let caller = Caller {
        tenant: &console,
        ip: None,
    };
    h.authkit.erase_user(caller, user.as_str()).await
}

#[tokio::test]
async fn a_console_user_is_erased_only_once_they_are_member_of_no_tenant() {
    let h = Harness::new().await;
    member_with(&h, "owner@example.com", Role::Owner).await;
    let (token, user) = member_with(&h, "dev@example.com", Role::Developer).await;
    let console = console(&h).await;
    let caller = Caller {
        tenant: &console,
        ip: None,
    };
    let export = h.authkit.export_user(caller, user.as_str()).await.unwrap();
    assert_eq!(export.memberships.len(), 1, "the export names their roles");

    assert!(matches!(
        erase_console_user(&h, &user).await,
        Err(AuthError::StillAMember)
    ));
    assert!(
        as_member(&h, &token, "acme").await.is_ok(),
        "nothing changed"
    );

    h.authkit.leave_tenant(&user, "acme").await.unwrap();
    assert!(as_member(&h, &token, "acme").await.is_err());
    let left = h
        .audit_of(&h.tenant.id, 20)
        .await
        .into_iter()
        .find(|event| event.kind.as_str() == "member_removed")
        .expect("leaving is audited on the tenant");
    assert_eq!(left.user_id.as_ref(), Some(&user));
    assert_eq!(left.detail, Some(format!("member:{user}")));
    erase_console_user(&h, &user).await.unwrap();
}

#[tokio::test]
async fn the_last_owner_cannot_leave_and_nobody_leaves_a_tenant_they_are_not_on() {
    let h = Harness::new().await;
    let (_, owner) = member_with(&h, "owner@example.com", Role::Owner).await;
    assert!(matches!(
        h.authkit.leave_tenant(&owner, "acme").await,
        Err(AuthError::LastOwner)
    ));
    assert!(matches!(
        h.authkit.leave_tenant(&owner, "globex").await,
        Err(AuthError::TenantNotFound)
    ));
    let (_, second) = member_with(&h, "second@example.com", Role::Owner).await;
    h.authkit.leave_tenant(&owner, "acme").await.unwrap();
    assert!(matches!(
        h.authkit.leave_tenant(&second, "acme").await,
        Err(AuthError::LastOwner)
    ));
}

#[tokio::test]
async fn invitation_emails_are_limited_per_mailbox_across_tenants_and_per_tenant_a_day() {
    let h = Harness::new().await;
    let operator = Actor::Operator("local".into());
    let globex = globex(&h).await;
    let invite = |tenant: crate::tenant::TenantId, email: String| {
        let operator = operator.clone();
        let authkit = &h.authkit;
        async move {
            authkit
                .invite_member(&operator, &tenant, &email, Role::Viewer)
                .await
        }
    };
    invite(h.tenant.id.clone(), "victim@example.com".into())
        .await
        .unwrap();
    invite(globex.clone(), "victim+1@example.com".into())
        .await
        .unwrap();
    invite(globex.clone(), "Victim@example.com".into())
        .await
        .unwrap();
    let sent = h.sender.count();
    let Err(AuthError::RateLimited(tripped)) =
        invite(h.tenant.id.clone(), "victim+2@example.com".into()).await
    else {
        panic!("a fourth invitation to one mailbox in a day, from any tenant, is refused");
    };
    assert_eq!(tripped.scope, crate::rate_limit::Scope::Identifier);
    assert_eq!(h.sender.count(), sent, "nothing more was sent");

    for n in 1..50 {
        invite(h.tenant.id.clone(), format!("member{n}@example.com"))
            .await
            .unwrap();
    }
    let Err(AuthError::RateLimited(tripped)) =
        invite(h.tenant.id.clone(), "one-more@example.com".into()).await
    else {
        panic!("the tenant's 51st invitation in a day is refused");
    };
    assert_eq!(tripped.scope, crate::rate_limit::Scope::Tenant);
    h.authkit
        .restore_owner(&operator, &h.tenant.id, "rescue@example.com")
        .await
        .expect("the operator's way back is not counted");
    assert!(matches!(
        h.authkit
            .restore_owner(
                &operator,
                &crate::tenant::TenantId::parse(CONSOLE_TENANT).unwrap(),
                "x@example.com"
            )
            .await,
        Err(AuthError::InvalidRequest(_))
    ));
    h.clock.advance(86_400);
    invite(h.tenant.id.clone(), "victim@example.com".into())
        .await
        .unwrap();
}

/// Outside attack (session 17, finding 4): a member removed while an invitation to their
/// address was pending accepted it and was back, with the invitation's role.
#[tokio::test]
async fn a_removed_member_does_not_come_back_through_a_pending_invitation() {
    let h = Harness::new().await;
    let (token, viewer) = member_with(&h, "viewer@example.com", Role::Viewer).await;
    h.authkit
        .invite_member(
            &Actor::Operator("local".into()),
            &h.tenant.id,
            "viewer@example.com",
            Role::Admin,
        )
        .await
        .unwrap();
    h.authkit
        .remove_member(&Actor::System, &h.tenant.id, viewer.as_str())
        .await
        .unwrap();
    let memberships = h.authkit.accept_invitations(&viewer).await.unwrap();
    assert!(memberships.is_empty(), "{memberships:?}");
    assert!(as_member(&h, &token, "acme").await.is_err());
}

/// Outside attack (session 17, finding 7): an admin swapped their console address for a
/// private one while owners kept seeing (and trusting) the corporate one.
#[tokio::test]
async fn a_console_user_cannot_swap_the_address_they_were_invited_by() {
    let h = Harness::new().await;
    let (token, _) = member_with(&h, "alice@corp.example", Role::Admin).await;
    let console = console(&h).await;
    let caller = Caller {
        tenant: &console,
        ip: Some("198.51.100.8"),
    };
    let claims = h
        .authkit
        .authenticate_access_token(&console.id, &token)
        .expect("a live console token");
    assert!(matches!(
        h.authkit
            .start_identifier_change(caller, &claims, "alice@gmail.example")
            .await,
        Err(AuthError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn owners_list_pending_invitations_and_a_revoked_one_cannot_be_accepted() {
    let h = Harness::new().await;
    let owner = Actor::Operator("local".into());
    for (email, role) in [
        ("dev@example.com", Role::Developer),
        ("ops@example.com", Role::Admin),
    ] {
        h.authkit
            .invite_member(&owner, &h.tenant.id, email, role)
            .await
            .unwrap();
    }
    let pending = h.authkit.list_invitations(&h.tenant.id).await.unwrap();
    let masked: Vec<&str> = pending.iter().map(|i| i.email_masked.as_str()).collect();
    assert_eq!(pending.len(), 2, "{masked:?}");
    assert!(masked
        .iter()
        .all(|email| !email.contains("dev@") && !email.contains("ops@")));
    let dev = pending
        .iter()
        .find(|invitation| invitation.role == Role::Developer)
        .unwrap();

    h.authkit
        .revoke_invitation(&owner, &h.tenant.id, dev.id().as_str())
        .await
        .unwrap();
    let left = h.authkit.list_invitations(&h.tenant.id).await.unwrap();
    assert_eq!(
        left.iter().map(|i| i.role).collect::<Vec<_>>(),
        [Role::Admin]
    );
    let (_, user) = console_sign_in(&h, "dev@example.com").await;
    assert!(h
        .authkit
        .accept_invitations(&user)
        .await
        .unwrap()
        .is_empty());
    let revoked = h
        .audit_of(&h.tenant.id, 10)
        .await
        .into_iter()
        .find(|event| event.kind.as_str() == "member_invitation_revoked")
        .expect("the revocation is audited");
    assert_eq!(
        revoked.identifier.as_deref(),
        Some(dev.email_masked.as_str())
    );

    for unknown in [dev.id().as_str(), "inv_0123", "usr_x", ""] {
        assert!(matches!(
            h.authkit
                .revoke_invitation(&owner, &h.tenant.id, unknown)
                .await,
            Err(AuthError::InvitationNotFound)
        ));
    }
}

#[tokio::test]
async fn an_invitation_id_is_another_tenants_nothing() {
    let h = Harness::new().await;
    let owner = Actor::Operator("local".into());
    let other = globex(&h).await;
    for tenant in [&h.tenant.id, &other] {
        h.authkit
            .invite_member(&owner, tenant, "both@example.com", Role::Viewer)
            .await
            .unwrap();
    }
    let here = h.authkit.list_invitations(&h.tenant.id).await.unwrap();
    let there = h.authkit.list_invitations(&other).await.unwrap();
    assert_ne!(
        here[0].id(),
        there[0].id(),
        "ids do not link one address across tenants"
    );
    assert!(matches!(
        h.authkit
            .revoke_invitation(&owner, &other, here[0].id().as_str())
            .await,
        Err(AuthError::InvitationNotFound)
    ));
    assert_eq!(h.authkit.list_invitations(&other).await.unwrap().len(), 1);
}
