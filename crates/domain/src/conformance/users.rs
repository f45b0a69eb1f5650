//! A tenant's users as its servers manage them: disabled and enabled, their sessions
//! listed, erased with their belongings; and the audit log read with filters and pages,
//! and pseudonymised.

use super::fixtures::{session, signed_in_with_device, user, WithDevice};
use super::{apply, now, tenant};
use crate::audit::{AuditPosition, AuditQuery};
use crate::clock::OsRandomness;
use crate::event::{Event, EventKind, Outcome};
use crate::identifier::Identifier;
use crate::store::{Applied, Stores, Write};
use crate::user::{User, UserId};

pub async fn a_disabled_user_is_kept_from_new_sessions_until_enabled(stores: &Stores) {
    let tenant = tenant();
    let alice = user(&tenant, "alice@example.com");
    assert_eq!(
        apply(stores, vec![Write::InsertUser(alice.clone())]).await,
        Applied::Done
    );
    let at = now();
    let disable = |disabled_at| Write::SetUserDisabled {
        user: alice.clone(),
        disabled_at,
    };
    assert_eq!(apply(stores, vec![disable(Some(at))]).await, Applied::Done);
    let by_identifier = stores
        .users
        .find(&tenant, &alice.identifier)
        .await
        .expect("read")
        .expect("found");
    let by_id = stores
        .users
        .get(&tenant, &alice.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(by_identifier.disabled_at, Some(at), "under its identifier");
    assert_eq!(by_id.disabled_at, Some(at), "under its id");
    let enabled_check = Write::KeepUserEnabled {
        tenant: tenant.clone(),
        user: alice.id.clone(),
    };
    for condition in [
        Write::KeepUser {
            user: alice.clone(),
            by: alice.identifier.clone(),
            at: now(),
        },
        enabled_check.clone(),
    ] {
        assert!(
            apply(stores, vec![condition]).await.refused(0),
            "a disabled user's sign-in is refused by its condition"
        );
    }
    assert_eq!(apply(stores, vec![disable(None)]).await, Applied::Done);
    assert_eq!(
        apply(stores, vec![enabled_check]).await,
        Applied::Done,
        "enabled again"
    );
    let signed_in_at = at.plus_secs(7);
    assert_eq!(
        apply(
            stores,
            vec![Write::KeepUser {
                user: alice.clone(),
                by: alice.identifier.clone(),
                at: signed_in_at
            }]
        )
        .await,
        Applied::Done
    );
    for read in [
        stores.users.find(&tenant, &alice.identifier).await,
        stores.users.get(&tenant, &alice.id).await,
    ] {
        let read = read.expect("read").expect("found");
        assert_eq!(
            read.last_sign_in_at,
            Some(signed_in_at),
            "the sign-in is recorded"
        );
        assert_eq!(read.disabled_at, None);
    }
    let nobody = user(&tenant, "nobody@example.com");
    assert!(
        apply(
            stores,
            vec![Write::SetUserDisabled {
                user: nobody.clone(),
                disabled_at: Some(at)
            }]
        )
        .await
        .refused(0),
        "an unknown user cannot be disabled (nor created by trying)"
    );
    assert_eq!(
        stores.users.get(&tenant, &nobody.id).await.expect("read"),
        None
    );
    assert!(
        apply(
            stores,
            vec![Write::KeepUserEnabled {
                tenant: tenant.clone(),
                user: nobody.id.clone()
            }]
        )
        .await
        .refused(0),
        "an unknown user is not enabled"
    );
}

pub async fn a_recycled_phone_number_moves_to_a_new_user_and_the_old_one_stays(stores: &Stores) {
    let tenant = tenant();
    let at = now();
    let previous = user(&tenant, "+14155550123");
    assert_eq!(
        apply(stores, vec![Write::InsertUser(previous.clone())]).await,
        Applied::Done
    );
    let next = user(&tenant, "+14155550123");
    let reassign = |previous: &User| Write::ReassignIdentifier {
        previous: previous.clone(),
        next: next.clone(),
        at,
    };
    assert_eq!(
        apply(stores, vec![reassign(&previous)]).await,
        Applied::Done
    );
    let found = stores
        .users
        .find(&tenant, &previous.identifier)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(found.id, next.id, "the number now names the new user");
    assert_eq!(
        stores.users.get(&tenant, &next.id).await.expect("read"),
        Some(next.clone())
    );
    let kept = stores
        .users
        .get(&tenant, &previous.id)
        .await
        .expect("read")
        .expect("the previous user stays");
    assert_eq!(kept.identifier_reassigned_at, Some(at));
    assert!(
        apply(stores, vec![reassign(&previous)]).await.refused(0),
        "the number moves once"
    );
    // The previous user can still be disabled and erased, without touching the number.
    assert_eq!(
        apply(
            stores,
            vec![Write::SetUserDisabled {
                user: kept.clone(),
                disabled_at: Some(at)
            }]
        )
        .await,
        Applied::Done
    );
    assert_eq!(
        apply(stores, vec![Write::DeleteUser(kept)]).await,
        Applied::Done
    );
    let still = stores
        .users
        .find(&tenant, &previous.identifier)
        .await
        .expect("read")
        .expect("found");
    assert_eq!((still.id, still.disabled_at), (next.id, None));
}

/// A user's copies: by id, and by each identifier (None where it names nobody else).
async fn copies(stores: &Stores, user: &User, raws: &[&str]) -> Vec<Option<User>> {
    let mut found = vec![stores
        .users
        .get(&user.tenant, &user.id)
        .await
        .expect("read")];
    for raw in raws {
        let identifier = Identifier::parse(raw, None).expect("valid");
        found.push(
            stores
                .users
                .find(&user.tenant, &identifier)
                .await
                .expect("read"),
        );
    }
    found
}

pub async fn an_identifier_changes_only_to_a_free_one_and_moves_whole(stores: &Stores) {
    let tenant = tenant();
    let at = now();
    let (alice, bob) = (
        user(&tenant, "alice@example.com"),
        user(&tenant, "bob@example.com"),
    );
    let writes = vec![
        Write::InsertUser(alice.clone()),
        Write::InsertUser(bob.clone()),
    ];
    assert_eq!(apply(stores, writes).await, Applied::Done);
    let set = |user: &User, next: &User| Write::SetIdentifiers {
        user: user.clone(),
        next: next.clone(),
    };
    let proved = |user: &User, raw: &str| {
        user.with_identifier(Identifier::parse(raw, None).expect("valid"), at)
    };
    assert!(
        apply(
            stores,
            vec![set(&alice, &proved(&alice, "Bob@example.com"))]
        )
        .await
        .refused(0),
        "another user's identifier is taken"
    );

    // A phone number joins the address: three items, one user, alike.
    let both = proved(&alice, "+14155550199");
    assert_eq!(
        (
            both.identifier.as_str(),
            both.second_identifier.as_ref().map(|i| i.as_str())
        ),
        ("alice@example.com", Some("+14155550199"))
    );
    assert_eq!(apply(stores, vec![set(&alice, &both)]).await, Applied::Done);
    let raws = ["alice@example.com", "+14155550199"];
    assert_eq!(
        copies(stores, &alice, &raws).await,
        vec![Some(both.clone()); 3],
        "by id, by address and by number"
    );
    assert!(
        apply(stores, vec![set(&alice, &proved(&alice, "+14155550100"))])
            .await
            .refused(0),
        "a change from identifiers the user no longer holds all is refused"
    );

    // Every write on the user covers all three items.
    assert_eq!(
        apply(
            stores,
            vec![Write::SetUserDisabled {
                user: both.clone(),
                disabled_at: Some(at)
            }]
        )
        .await,
        Applied::Done
    );
    assert!(copies(stores, &alice, &raws)
        .await
        .iter()
        .all(|copy| copy.as_ref().is_some_and(|u| u.disabled_at == Some(at))));
    assert_eq!(
        apply(
            stores,
            vec![Write::SetUserDisabled {
                user: both.clone(),
                disabled_at: None
            }]
        )
        .await,
        Applied::Done
    );
    let later = at.plus_secs(60);
    assert_eq!(
        apply(
            stores,
            vec![Write::KeepUser {
                user: both.clone(),
                by: Identifier::parse("+14155550199", None).expect("valid"),
                at: later
            }]
        )
        .await,
        Applied::Done
    );
    let signed_in = User {
        last_sign_in_at: Some(later),
        phone_used_at: Some(later),
        ..both.clone()
    };
    assert_eq!(
        copies(stores, &alice, &raws).await,
        vec![Some(signed_in.clone()); 3],
        "a sign-in by the number is recorded on every item, with the number's clock"
    );

    // Changing the address replaces only the address.
    let moved = proved(&signed_in, "alice@example.org");
    assert_eq!(
        apply(stores, vec![set(&signed_in, &moved)]).await,
        Applied::Done
    );
    assert_eq!(
        copies(
            stores,
            &alice,
            &["alice@example.org", "+14155550199", "alice@example.com"]
        )
        .await,
        vec![
            Some(moved.clone()),
            Some(moved.clone()),
            Some(moved.clone()),
            None
        ],
        "the old address is free, the number stays"
    );

    // Removing the number leaves the address.
    let email_only = moved
        .without_identifier(crate::identifier::IdentifierKind::Phone)
        .expect("another remains");
    assert!(email_only
        .without_identifier(crate::identifier::IdentifierKind::Email)
        .is_none());
    assert_eq!(
        apply(stores, vec![set(&moved, &email_only)]).await,
        Applied::Done
    );
    assert_eq!(
        copies(stores, &alice, &["alice@example.org", "+14155550199"]).await,
        vec![Some(email_only.clone()), Some(email_only.clone()), None]
    );

    // Erasure takes every item.
    let with_phone = proved(&email_only, "+14155550199");
    assert_eq!(
        apply(stores, vec![set(&email_only, &with_phone)]).await,
        Applied::Done
    );
    assert_eq!(
        apply(stores, vec![Write::DeleteUser(with_phone.clone())]).await,
        Applied::Done
    );
    assert_eq!(
        copies(stores, &alice, &["alice@example.org", "+14155550199"]).await,
        vec![None, None, None]
    );
}

/// A recycled number of a user who also holds an address: the number goes to the new
/// user, the address stays theirs (decision 122).
pub async fn a_recycled_phone_number_leaves_the_other_identifier_to_its_user(stores: &Stores) {
    let tenant = tenant();
    let at = now();
    let alone = user(&tenant, "dora@example.com");
    assert_eq!(
        apply(stores, vec![Write::InsertUser(alone.clone())]).await,
        Applied::Done
    );
    let both = alone.with_identifier(Identifier::parse("+14155550124", None).expect("valid"), at);
    assert_eq!(
        apply(
            stores,
            vec![Write::SetIdentifiers {
                user: alone.clone(),
                next: both.clone()
            }]
        )
        .await,
        Applied::Done
    );
    let next = user(&tenant, "+14155550124");
    assert_eq!(
        apply(
            stores,
            vec![Write::ReassignIdentifier {
                previous: both.clone(),
                next: next.clone(),
                at
            }]
        )
        .await,
        Applied::Done
    );
    let kept = both.after_phone_reassigned(at);
    assert_eq!(kept.identifiers().len(), 1);
    assert_eq!(
        copies(stores, &both, &["dora@example.com", "+14155550124"]).await,
        vec![Some(kept.clone()), Some(kept), Some(next)],
        "the address stays the previous user's, alone; the number is the new user's"
    );
}

pub async fn a_users_sessions_are_listed_and_erased_with_their_devices(stores: &Stores) {
    let tenant = tenant();
    let at = now();
    let WithDevice {
        user: alice,
        session: signed_in,
        device: laptop,
    } = signed_in_with_device(stores, &tenant, "alice@example.com", at).await;
    let bob = user(&tenant, "bob@example.com");
    let (later, earlier, bobs) = (
        session(&alice, at.plus_secs(5)),
        session(&alice, at),
        session(&bob, at),
    );
    let mut writes = vec![Write::InsertUser(bob.clone())];
    writes.extend([&later, &earlier, &bobs].map(|s| Write::InsertSession(s.clone())));
    assert_eq!(apply(stores, writes).await, Applied::Done);
    assert_eq!(
        apply(
            stores,
            vec![Write::RevokeSession {
                tenant: tenant.clone(),
                id: earlier.id.clone(),
                now: at
            }]
        )
        .await,
        Applied::Done
    );
    let listed = stores
        .sessions
        .list(&tenant, &alice.id, at)
        .await
        .expect("listed");
    let mut expected = vec![earlier.id.clone(), signed_in.id.clone()];
    expected.sort();
    expected.push(later.id.clone());
    assert_eq!(
        listed.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
        expected,
        "the user's sessions, oldest first (then by id), revoked ones included, no one else's"
    );
    assert!(listed[0].revoked_at.is_some() || listed[1].revoked_at.is_some());
    assert!(
        stores
            .sessions
            .list(&tenant, &alice.id, at.plus_secs(4000))
            .await
            .expect("listed")
            .is_empty(),
        "expired sessions are not listed"
    );

    stores
        .users
        .erase_belongings(&tenant, &alice.id)
        .await
        .expect("erased");
    stores
        .users
        .erase_belongings(&tenant, &alice.id)
        .await
        .expect("erasing again is harmless");
    assert!(stores
        .devices
        .list(&tenant, &alice.id)
        .await
        .expect("read")
        .is_empty());
    assert_eq!(
        stores
            .devices
            .get(&tenant, &alice.id, &laptop.id)
            .await
            .expect("read"),
        None,
        "the device is gone"
    );
    assert!(stores
        .sessions
        .list(&tenant, &alice.id, at)
        .await
        .expect("read")
        .is_empty());
    for family in [&later, &earlier, &signed_in] {
        assert_eq!(
            stores
                .sessions
                .get(&tenant, &family.id)
                .await
                .expect("read"),
            None,
            "the session itself is gone"
        );
    }
    assert_eq!(
        stores
            .sessions
            .list(&tenant, &bob.id, at)
            .await
            .expect("read")
            .len(),
        1,
        "another user's session stays"
    );
    assert_eq!(
        apply(stores, vec![Write::DeleteUser(alice.clone())]).await,
        Applied::Done
    );
    assert_eq!(
        stores.users.get(&tenant, &alice.id).await.expect("read"),
        None
    );
    assert_eq!(
        stores
            .users
            .find(&tenant, &alice.identifier)
            .await
            .expect("read"),
        None
    );
    assert!(
        apply(stores, vec![Write::DeleteUser(alice)])
            .await
            .refused(0),
        "a user is deleted once"
    );
}

pub async fn the_audit_log_is_read_by_filter_and_page_and_pseudonymised(stores: &Stores) {
    let tenant = tenant();
    let at = now();
    let (alice, bob) = (
        UserId::generate(&OsRandomness),
        UserId::generate(&OsRandomness),
    );
    let event = |kind, user: &UserId, secs: i64| {
        let mut event = Event::new(
            &tenant,
            kind,
            Outcome::Success,
            at.plus_secs(secs),
            &OsRandomness,
        );
        event.user_id = Some(user.clone());
        event.identifier = Some("a***@example.com".into());
        event.ip = Some("192.0.2.1".into());
        event
    };
    // Two days apart, so that a page crosses a day's partitions.
    let events = vec![
        event(EventKind::UserCreated, &alice, -86_400),
        event(EventKind::SessionOpened, &alice, -86_399),
        event(EventKind::SessionOpened, &bob, -10),
        event(EventKind::SessionRevoked, &alice, -5),
        event(EventKind::SessionOpened, &alice, 0),
    ];
    stores.audit.record(&events).await.expect("recorded");
    // A tenant keeping its log one day: an entry two days old has gone (TTL).
    let mut expired = event(EventKind::SessionOpened, &alice, -2 * 86_400 + 5);
    expired.retention_days = Some(1);
    stores
        .audit
        .record(std::slice::from_ref(&expired))
        .await
        .expect("recorded");
    let everything = AuditQuery::between(at.plus_secs(-2 * 86_400), at, 2);
    let ids = |page: &crate::audit::AuditPage| -> Vec<String> {
        page.entries.iter().map(|(_, e)| e.id.clone()).collect()
    };
    let first = stores
        .audit
        .query(&tenant, &everything, at)
        .await
        .expect("read");
    assert_eq!(ids(&first), [events[4].id.clone(), events[3].id.clone()]);
    assert!(first.has_more);
    let next = AuditQuery {
        starting_after: first.entries.last().map(|(p, _)| p.clone()),
        ..everything.clone()
    };
    let second = stores.audit.query(&tenant, &next, at).await.expect("read");
    assert_eq!(ids(&second), [events[2].id.clone(), events[1].id.clone()]);
    let last = AuditQuery {
        starting_after: Some(AuditPosition::of(&events[1])),
        ..everything.clone()
    };
    let third = stores.audit.query(&tenant, &last, at).await.expect("read");
    assert_eq!(ids(&third), [events[0].id.clone()]);
    assert!(!third.has_more, "the last page says so");

    let alices_sessions = AuditQuery {
        kind: Some(EventKind::SessionOpened),
        user: Some(alice.clone()),
        limit: 10,
        ..everything.clone()
    };
    let page = stores
        .audit
        .query(&tenant, &alices_sessions, at)
        .await
        .expect("read");
    assert_eq!(ids(&page), [events[4].id.clone(), events[1].id.clone()]);
    let today = AuditQuery::between(at.plus_secs(-60), at.plus_secs(-1), 10);
    let page = stores.audit.query(&tenant, &today, at).await.expect("read");
    assert_eq!(
        ids(&page),
        [events[3].id.clone(), events[2].id.clone()],
        "within the range"
    );
    assert_eq!(
        stores
            .audit
            .query(&super::tenant(), &everything, at)
            .await
            .expect("read"),
        Default::default(),
        "another tenant's log is empty"
    );

    let pseudonym = UserId::generate(&OsRandomness);
    for _ in 0..2 {
        stores
            .audit
            .pseudonymise(&tenant, &alice, &pseudonym, at.plus_secs(-2 * 86_400), at)
            .await
            .expect("pseudonymised, idempotently");
    }
    let all = AuditQuery {
        limit: 10,
        ..everything
    };
    let page = stores.audit.query(&tenant, &all, at).await.expect("read");
    assert_eq!(page.entries.len(), 5, "entries are kept, not deleted");
    for (_, entry) in &page.entries {
        if entry.user_id.as_ref() == Some(&bob) {
            assert_eq!(
                entry.ip.as_deref(),
                Some("192.0.2.1"),
                "others are untouched"
            );
        } else {
            assert_eq!(entry.user_id.as_ref(), Some(&pseudonym));
            assert_eq!(
                (entry.ip.as_deref(), entry.identifier.as_deref()),
                (None, None)
            );
        }
    }
}
