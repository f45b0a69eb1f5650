//! A tenant created with its first owner (sign-up, decision 151), for every store: the
//! tenant, its keys, the membership both ways, the owner count and both events in one
//! step, or none of it; and sign-up's idempotency records kept per console user.

use super::members::{membership, role_of, set};
use super::tenant;
use super::tenant_registry::{admin_event, idempotency, key_entry, new_tenant, recorded};
use crate::clock::OsRandomness;
use crate::event::EventKind;
use crate::member::{MemberWritten, Role};
use crate::registry::{FirstOwner, IdempotencyScope, TenantCreation, Written};
use crate::store::Stores;
use crate::tenant::{KeyKind, TenantId};
use crate::user::UserId;

pub async fn check_all(stores: &Stores) {
    a_tenant_and_its_first_owner_are_written_in_one_step(stores).await;
    signup_idempotency_records_are_kept_per_console_user(stores).await;
}

fn first_owner(tenant: &TenantId, user: &UserId) -> FirstOwner {
    FirstOwner {
        membership: membership(tenant, user, Role::Owner),
        event: admin_event(tenant, EventKind::MemberRoleSet),
    }
}

fn creation(tenant: &TenantId, owner: &UserId) -> TenantCreation {
    let (_, publishable, _) = key_entry(tenant, KeyKind::Publishable, super::now());
    TenantCreation {
        tenant: new_tenant(tenant.clone()),
        keys: vec![publishable],
        idempotency: None,
        event: admin_event(tenant, EventKind::TenantCreated),
        owner: Some(first_owner(tenant, owner)),
    }
}

pub async fn a_tenant_and_its_first_owner_are_written_in_one_step(stores: &Stores) {
    let id = tenant();
    let owner = UserId::generate(&OsRandomness);
    let first = creation(&id, &owner);
    assert_eq!(
        stores.registry.create_tenant(&first).await.expect("write"),
        Written::Done
    );
    assert!(stores
        .tenants
        .get_tenant(&id)
        .await
        .expect("read")
        .is_some());
    assert_eq!(
        role_of(stores, &id, &owner).await,
        Some(Role::Owner),
        "the tenant is created with its owner"
    );
    let theirs = stores.members.memberships_of(&owner).await.expect("read");
    assert_eq!(
        theirs.iter().map(|m| m.tenant.clone()).collect::<Vec<_>>(),
        vec![id.clone()],
        "the owner finds the tenant from their side too"
    );
    assert!(recorded(stores, &first.event).await, "tenant_created");
    let owned = first.owner.as_ref().expect("an owner");
    assert!(recorded(stores, &owned.event).await, "member_role_set");
    assert_eq!(
        set(stores, &id, &owner, Some(Role::Owner), None).await,
        MemberWritten::LastOwner,
        "the owner count starts at one: the only owner stays"
    );

    let intruder = UserId::generate(&OsRandomness);
    let again = creation(&id, &intruder);
    assert_eq!(
        stores.registry.create_tenant(&again).await.expect("write"),
        Written::Conflict
    );
    assert_eq!(
        role_of(stores, &id, &intruder).await,
        None,
        "a refused creation writes no member"
    );
    assert!(stores
        .members
        .memberships_of(&intruder)
        .await
        .expect("read")
        .is_empty());
    assert!(!recorded(stores, &again.owner.expect("an owner").event).await);

    // The count goes on from one: a second owner, then the first may leave.
    let second = UserId::generate(&OsRandomness);
    assert_eq!(
        set(stores, &id, &second, None, Some(Role::Owner)).await,
        MemberWritten::Done
    );
    assert_eq!(
        set(stores, &id, &owner, Some(Role::Owner), None).await,
        MemberWritten::Done
    );
    assert_eq!(
        set(stores, &id, &second, Some(Role::Owner), None).await,
        MemberWritten::LastOwner
    );
}

pub async fn signup_idempotency_records_are_kept_per_console_user(stores: &Stores) {
    let (alice, bob) = (
        UserId::generate(&OsRandomness),
        UserId::generate(&OsRandomness),
    );
    let id = tenant();
    let record = idempotency(
        IdempotencyScope::Signup(alice.clone()),
        vec![id.to_string()],
    );
    let created = TenantCreation {
        idempotency: Some(record.clone()),
        ..creation(&id, &alice)
    };
    assert_eq!(
        stores
            .registry
            .create_tenant(&created)
            .await
            .expect("write"),
        Written::Done
    );
    let now = super::now();
    let found = stores
        .registry
        .find_idempotency(
            &IdempotencyScope::Signup(alice.clone()),
            &record.key_digest,
            now,
        )
        .await
        .expect("read");
    assert_eq!(found.as_ref(), Some(&record));
    let others = stores
        .registry
        .find_idempotency(&IdempotencyScope::Signup(bob), &record.key_digest, now)
        .await
        .expect("read");
    assert_eq!(others, None, "another console user's key is another record");
    let retried = TenantCreation {
        idempotency: Some(record),
        ..creation(&tenant(), &alice)
    };
    assert_eq!(
        stores
            .registry
            .create_tenant(&retried)
            .await
            .expect("write"),
        Written::IdempotencyKeyTaken,
        "a recorded key creates no second tenant"
    );
    assert_eq!(
        role_of(stores, &retried.tenant.id, &alice).await,
        None,
        "nor a second membership"
    );
}
