//! Memberships and invitations, for every store: roles set only from the role read,
//! listed by tenant and by member, invitations accepted once and not after they expire,
//! a tenant never left without an owner, even by two removals at once, and pending
//! invitations listed by tenant and revoked once.

use super::{now, tenant};
use crate::clock::{OsRandomness, Timestamp};
use crate::event::{Event, EventKind, Outcome};
use crate::member::{Invitation, MemberChange, MemberWritten, Membership, Role};
use crate::secret::Pepper;
use crate::store::Stores;
use crate::tenant::TenantId;
use crate::user::UserId;

pub async fn check_all(stores: &Stores) {
    members_are_set_from_the_role_read_and_listed_both_ways(stores).await;
    an_invitation_is_accepted_once_and_never_after_it_expires(stores).await;
    the_last_owner_stays_even_when_two_owners_are_removed_at_once(stores).await;
    a_removal_cancels_the_members_pending_invitation(stores).await;
    invitations_are_listed_by_tenant_and_revoked_once(stores).await;
}

async fn invitations_are_listed_by_tenant_and_revoked_once(stores: &Stores) {
    let (a, b) = (tenant(), tenant());
    let pepper = Pepper::generate(&OsRandomness);
    let [first, second, expired] = ["first", "second", "expired"].map(|name| {
        pepper.hash(
            "member-invitation",
            format!("{name}@example.com").as_bytes(),
        )
    });
    let at = now();
    for (tenant, hash, expires_at) in [
        (&a, first, at.plus_secs(3600)),
        (&a, second, at.plus_secs(3600)),
        (&a, expired, at.plus_secs(-1)),
        (&b, first, at.plus_secs(3600)),
    ] {
        stores
            .members
            .put_invitation(
                &invitation(tenant, hash, expires_at),
                &event(tenant, EventKind::MemberInvited),
            )
            .await
            .expect("write");
    }
    let hashes_of = |tenant: &TenantId| {
        let tenant = tenant.clone();
        async move {
            let mut hashes: Vec<String> = stores
                .members
                .tenant_invitations(&tenant, at)
                .await
                .expect("read")
                .into_iter()
                .map(|invitation| invitation.email_hash.to_hex())
                .collect();
            hashes.sort();
            hashes
        }
    };
    let mut expected = vec![first.to_hex(), second.to_hex()];
    expected.sort();
    assert_eq!(
        hashes_of(&a).await,
        expected,
        "the tenant's unexpired invitations"
    );
    assert_eq!(hashes_of(&b).await, vec![first.to_hex()]);

    let revoked = event(&a, EventKind::MemberInvitationRevoked);
    assert!(stores
        .members
        .revoke_invitation(&a, &first, &revoked)
        .await
        .expect("write"));
    assert!(
        stores
            .changes
            .recorded_event(&a, &revoked.id)
            .await
            .expect("read")
            .is_some(),
        "the revocation's event is recorded with it"
    );
    assert_eq!(hashes_of(&a).await, vec![second.to_hex()]);
    assert_eq!(
        stores
            .members
            .invitations_for(&first, at)
            .await
            .expect("read")
            .iter()
            .map(|invitation| invitation.tenant.clone())
            .collect::<Vec<_>>(),
        vec![b.clone()],
        "the address can no longer accept the revoked invitation; the other tenant's stands"
    );
    let again = event(&a, EventKind::MemberInvitationRevoked);
    assert!(
        !stores
            .members
            .revoke_invitation(&a, &first, &again)
            .await
            .expect("write"),
        "an invitation is revoked once"
    );
    assert!(
        stores
            .changes
            .recorded_event(&a, &again.id)
            .await
            .expect("read")
            .is_none(),
        "a revocation that found nothing records nothing"
    );
}

async fn a_removal_cancels_the_members_pending_invitation(stores: &Stores) {
    let (a, b) = (tenant(), tenant());
    let pepper = Pepper::generate(&OsRandomness);
    let hash = pepper.hash("member-invitation", b"member@example.com");
    let member = UserId::generate(&OsRandomness);
    let owner = UserId::generate(&OsRandomness);
    for tenant in [&a, &b] {
        assert_eq!(
            set(stores, tenant, &owner, None, Some(Role::Owner)).await,
            MemberWritten::Done
        );
        assert_eq!(
            set(stores, tenant, &member, None, Some(Role::Viewer)).await,
            MemberWritten::Done
        );
        stores
            .members
            .put_invitation(
                &invitation(tenant, hash, now().plus_secs(3600)),
                &event(tenant, EventKind::MemberInvited),
            )
            .await
            .expect("write");
    }
    let removal = MemberChange {
        tenant: a.clone(),
        user: member.clone(),
        expected: Some(Role::Viewer),
        next: None,
        accepting: None,
        cancelling: Some(hash),
        event: event(&a, EventKind::MemberRemoved),
    };
    assert_eq!(
        stores.members.change_member(&removal).await.expect("write"),
        MemberWritten::Done
    );
    let pending: Vec<TenantId> = stores
        .members
        .invitations_for(&hash, now())
        .await
        .expect("read")
        .into_iter()
        .map(|invitation| invitation.tenant)
        .collect();
    assert_eq!(
        pending,
        vec![b.clone()],
        "the removal took the invitation to its tenant, and only that one"
    );
    let again = MemberChange {
        tenant: b.clone(),
        user: member.clone(),
        expected: Some(Role::Viewer),
        next: None,
        accepting: None,
        cancelling: Some(pepper.hash("member-invitation", b"nobody@example.com")),
        event: event(&b, EventKind::MemberRemoved),
    };
    assert_eq!(
        stores.members.change_member(&again).await.expect("write"),
        MemberWritten::Done,
        "a removal with no invitation to cancel still applies"
    );
}

fn event(tenant: &TenantId, kind: EventKind) -> Event {
    let mut event = Event::new(tenant, kind, Outcome::Success, now(), &OsRandomness);
    event.detail = Some("member:conformance".into());
    event
}

pub(super) fn membership(tenant: &TenantId, user: &UserId, role: Role) -> Membership {
    Membership {
        tenant: tenant.clone(),
        user: user.clone(),
        email: "member@example.com".into(),
        role,
        created_at: now(),
        updated_at: now(),
    }
}

/// Sets `user`'s role from `expected` (None: removes them when `role` is None).
pub(super) async fn set(
    stores: &Stores,
    tenant: &TenantId,
    user: &UserId,
    expected: Option<Role>,
    role: Option<Role>,
) -> MemberWritten {
    let change = MemberChange {
        tenant: tenant.clone(),
        user: user.clone(),
        expected,
        next: role.map(|role| membership(tenant, user, role)),
        accepting: None,
        cancelling: None,
        event: event(tenant, EventKind::MemberRoleSet),
    };
    stores.members.change_member(&change).await.expect("write")
}

pub(super) async fn role_of(stores: &Stores, tenant: &TenantId, user: &UserId) -> Option<Role> {
    stores
        .members
        .member(tenant, user)
        .await
        .expect("read")
        .map(|membership| membership.role)
}

async fn members_are_set_from_the_role_read_and_listed_both_ways(stores: &Stores) {
    let (a, b) = (tenant(), tenant());
    let owner = UserId::generate(&OsRandomness);
    let viewer = UserId::generate(&OsRandomness);
    assert_eq!(
        set(stores, &a, &owner, None, Some(Role::Owner)).await,
        MemberWritten::Done
    );
    assert_eq!(
        set(stores, &a, &owner, None, Some(Role::Viewer)).await,
        MemberWritten::Stale,
        "a member is added only if they are not one"
    );
    assert_eq!(
        set(stores, &a, &viewer, None, Some(Role::Viewer)).await,
        MemberWritten::Done
    );
    assert_eq!(
        set(stores, &b, &viewer, None, Some(Role::Owner)).await,
        MemberWritten::Done
    );
    assert_eq!(
        set(
            stores,
            &a,
            &viewer,
            Some(Role::Admin),
            Some(Role::Developer)
        )
        .await,
        MemberWritten::Stale,
        "a role changes only from the role read"
    );
    assert_eq!(
        set(
            stores,
            &a,
            &viewer,
            Some(Role::Viewer),
            Some(Role::Developer)
        )
        .await,
        MemberWritten::Done
    );
    assert_eq!(role_of(stores, &a, &viewer).await, Some(Role::Developer));

    let first = stores
        .members
        .list_members(&a, None, 1)
        .await
        .expect("list");
    assert!(first.has_more, "two members, one a page");
    let rest = stores
        .members
        .list_members(&a, Some(&first.items[0].user), 10)
        .await
        .expect("list");
    let mut listed: Vec<UserId> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|m| m.user.clone())
        .collect();
    listed.sort();
    let mut expected = vec![owner.clone(), viewer.clone()];
    expected.sort();
    assert_eq!(
        listed, expected,
        "members of a tenant are listed by id, once each"
    );
    assert!(!rest.has_more);

    let mut tenants: Vec<(TenantId, Role)> = stores
        .members
        .memberships_of(&viewer)
        .await
        .expect("read")
        .into_iter()
        .map(|membership| (membership.tenant, membership.role))
        .collect();
    tenants.sort();
    let mut expected = vec![(a.clone(), Role::Developer), (b.clone(), Role::Owner)];
    expected.sort();
    assert_eq!(
        tenants, expected,
        "a member's tenants are found from the member"
    );

    assert_eq!(
        set(stores, &a, &viewer, Some(Role::Developer), None).await,
        MemberWritten::Done
    );
    assert_eq!(role_of(stores, &a, &viewer).await, None);
    assert_eq!(
        stores
            .members
            .memberships_of(&viewer)
            .await
            .expect("read")
            .len(),
        1,
        "a removed membership is gone from the member's side too"
    );
}

fn invitation(
    tenant: &TenantId,
    email_hash: crate::secret::SecretHash,
    expires_at: Timestamp,
) -> Invitation {
    Invitation {
        tenant: tenant.clone(),
        email_hash,
        email_masked: "i***@example.com".into(),
        role: Role::Admin,
        invited_by: "member:conformance".into(),
        created_at: now(),
        expires_at,
    }
}

async fn an_invitation_is_accepted_once_and_never_after_it_expires(stores: &Stores) {
    let (a, b) = (tenant(), tenant());
    let pepper = Pepper::generate(&OsRandomness);
    let hash = pepper.hash("member-invitation", b"invited@example.com");
    let at = now();
    for (tenant, expires_at) in [(&a, at.plus_secs(3600)), (&b, at.plus_secs(-1))] {
        let invited = event(tenant, EventKind::MemberInvited);
        stores
            .members
            .put_invitation(&invitation(tenant, hash, expires_at), &invited)
            .await
            .expect("write");
    }
    let found = stores
        .members
        .invitations_for(&hash, at)
        .await
        .expect("read");
    assert_eq!(
        found.iter().map(|i| i.tenant.clone()).collect::<Vec<_>>(),
        vec![a.clone()],
        "only unexpired invitations are found, by the address's hash"
    );
    assert_eq!(found[0], invitation(&a, hash, at.plus_secs(3600)));

    let user = UserId::generate(&OsRandomness);
    let accept = |tenant: &TenantId| MemberChange {
        tenant: tenant.clone(),
        user: user.clone(),
        expected: None,
        next: Some(membership(tenant, &user, Role::Admin)),
        accepting: Some(hash),
        cancelling: None,
        event: event(tenant, EventKind::MemberRoleSet),
    };
    assert_eq!(
        stores
            .members
            .change_member(&accept(&b))
            .await
            .expect("write"),
        MemberWritten::Stale,
        "an expired invitation cannot be accepted"
    );
    assert_eq!(role_of(stores, &b, &user).await, None);
    let change = accept(&a);
    assert_eq!(
        stores.members.change_member(&change).await.expect("write"),
        MemberWritten::Done
    );
    assert!(
        stores
            .changes
            .recorded_event(&a, &change.event.id)
            .await
            .expect("read")
            .is_some(),
        "the change's event is recorded with it"
    );
    assert_eq!(role_of(stores, &a, &user).await, Some(Role::Admin));
    assert!(
        stores
            .members
            .invitations_for(&hash, at)
            .await
            .expect("read")
            .is_empty(),
        "an accepted invitation is gone"
    );
    let again = MemberChange {
        expected: Some(Role::Admin),
        ..accept(&a)
    };
    assert_eq!(
        stores.members.change_member(&again).await.expect("write"),
        MemberWritten::Stale,
        "an invitation is accepted once"
    );
}

async fn the_last_owner_stays_even_when_two_owners_are_removed_at_once(stores: &Stores) {
    let tenant = tenant();
    let first = UserId::generate(&OsRandomness);
    let second = UserId::generate(&OsRandomness);
    set(stores, &tenant, &first, None, Some(Role::Owner)).await;
    assert_eq!(
        set(
            stores,
            &tenant,
            &first,
            Some(Role::Owner),
            Some(Role::Admin)
        )
        .await,
        MemberWritten::LastOwner,
        "the only owner cannot be demoted"
    );
    assert_eq!(
        set(stores, &tenant, &first, Some(Role::Owner), None).await,
        MemberWritten::LastOwner,
        "the only owner cannot be removed"
    );
    assert_eq!(
        set(stores, &tenant, &second, None, Some(Role::Owner)).await,
        MemberWritten::Done
    );
    for _ in 0..3 {
        // A store may also refuse one of two changes at once as contended (DynamoDB's
        // TransactionConflict, retried by the caller): never both may be done.
        let (one, two) = futures::join!(
            try_set(stores, &tenant, &first, Some(Role::Owner), None),
            try_set(stores, &tenant, &second, Some(Role::Owner), None),
        );
        let done = [one, two]
            .iter()
            .filter(|written| **written == Some(MemberWritten::Done))
            .count();
        assert!(
            done <= 1,
            "of two owners removed at once, one stays: {one:?} {two:?}"
        );
        let mut owners = 0;
        for user in [&first, &second] {
            if role_of(stores, &tenant, user).await == Some(Role::Owner) {
                owners += 1;
            }
        }
        assert_eq!(owners, 2 - done, "what was done is what the store holds");
        for user in [&first, &second] {
            if role_of(stores, &tenant, user).await.is_none() {
                assert_eq!(
                    set(stores, &tenant, user, None, Some(Role::Owner)).await,
                    MemberWritten::Done
                );
            }
        }
    }
    assert_eq!(
        set(stores, &tenant, &first, Some(Role::Owner), None).await,
        MemberWritten::Done
    );
    assert_eq!(
        set(stores, &tenant, &second, Some(Role::Owner), None).await,
        MemberWritten::LastOwner,
        "the owner count follows every change"
    );
}

/// Like [`set`], None when the store reported the write contended.
async fn try_set(
    stores: &Stores,
    tenant: &TenantId,
    user: &UserId,
    expected: Option<Role>,
    role: Option<Role>,
) -> Option<MemberWritten> {
    let change = MemberChange {
        tenant: tenant.clone(),
        user: user.clone(),
        expected,
        next: role.map(|role| membership(tenant, user, role)),
        accepting: None,
        cancelling: None,
        event: event(tenant, EventKind::MemberRoleSet),
    };
    match stores.members.change_member(&change).await {
        Ok(written) => Some(written),
        Err(crate::store::StoreError::Throttled(_)) => None,
        Err(other) => panic!("the store answers: {other}"),
    }
}
