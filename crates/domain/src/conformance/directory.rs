//! Users, devices, sessions and tenants.

use super::fixtures::user;
use super::{apply, now, tenant};
use crate::clock::{OsRandomness, Timestamp};
use crate::device::{Device, DeviceId, Fingerprint, TrustLevel};
use crate::identifier::Identifier;
use crate::secret::{Pepper, SecretHash};
use crate::store::{Applied, DeviceSignIn, Stores, Write};
use crate::tenant::{ApiKey, ApiKeyRecord, KeyKind, Tenant, TenantPolicy};
use crate::token::{FamilyId, RefreshFamily};
use crate::user::{User, UserId};

pub async fn an_address_in_another_case_finds_the_same_user(stores: &Stores) {
    let tenant = tenant();
    let first = user(&tenant, "Dave@example.com");
    assert_eq!(
        apply(stores, vec![Write::InsertUser(first.clone())]).await,
        Applied::Done
    );
    let other_case = Identifier::parse("dave@EXAMPLE.com", None).expect("valid");
    let found = stores
        .users
        .find(&tenant, &other_case)
        .await
        .expect("read")
        .expect("an address in another case is the same person");
    assert_eq!(found, first, "kept as first typed");
    assert!(
        apply(
            stores,
            vec![Write::InsertUser(user(&tenant, "dave@EXAMPLE.com"))]
        )
        .await
        .refused(0),
        "a second user for the same person is refused"
    );
    assert_eq!(
        apply(
            stores,
            vec![Write::KeepUser {
                user: first.clone(),
                by: first.identifier.clone(),
                at: now()
            }]
        )
        .await,
        Applied::Done,
        "the identifier still names the user"
    );
    assert!(
        apply(
            stores,
            vec![Write::KeepUser {
                user: user(&tenant, "dave@example.com"),
                by: Identifier::parse("dave@example.com", None).expect("valid"),
                at: now()
            }]
        )
        .await
        .refused(0),
        "… and no other"
    );
}

pub async fn concurrent_first_sign_ins_create_one_user(stores: &Stores) {
    let tenant = tenant();
    let candidates: Vec<User> = (0..8).map(|_| user(&tenant, "+14155552671")).collect();
    let outcomes = futures::future::join_all(
        candidates
            .iter()
            .map(|c| apply(stores, vec![Write::InsertUser(c.clone())])),
    )
    .await;
    let created: Vec<&User> = candidates
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == Applied::Done)
        .map(|(user, _)| user)
        .collect();
    assert_eq!(
        created.len(),
        1,
        "exactly one concurrent first sign-in creates the user"
    );
    let user = created[0];
    assert_eq!(
        stores
            .users
            .find(&tenant, &user.identifier)
            .await
            .expect("read")
            .as_ref(),
        Some(user)
    );
    assert_eq!(
        stores
            .users
            .get(&tenant, &user.id)
            .await
            .expect("read")
            .as_ref(),
        Some(user)
    );
}

pub async fn devices_are_listed_in_order_record_sign_ins_and_are_revoked_once(stores: &Stores) {
    let at = now();
    let tenant = tenant();
    let user = UserId::generate(&OsRandomness);
    let device = |created: i64| Device {
        id: DeviceId::generate(&OsRandomness),
        tenant: tenant.clone(),
        user_id: user.clone(),
        secret_hash: Pepper::generate(&OsRandomness).hash("device", b"s"),
        name: Some("Laptop".into()),
        fingerprint: Fingerprint {
            platform: Some("Linux".into()),
            languages: vec!["en".into()],
            ..Fingerprint::default()
        },
        trust: TrustLevel::Trusted,
        created_at: Timestamp(created),
        last_seen: Timestamp(created),
        revoked_at: None,
    };
    let (second, first) = (device(at.0 + 5), device(at.0));
    for device in [&second, &first] {
        assert_eq!(
            apply(stores, vec![Write::InsertDevice(device.clone())]).await,
            Applied::Done
        );
    }
    assert!(
        apply(stores, vec![Write::InsertDevice(first.clone())])
            .await
            .refused(0),
        "a device id is taken once"
    );
    let listed: Vec<DeviceId> = stores
        .devices
        .list(&tenant, &user)
        .await
        .expect("listed")
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        listed,
        vec![first.id.clone(), second.id.clone()],
        "devices list oldest first"
    );
    assert_eq!(
        stores
            .devices
            .get(&tenant, &user, &first.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&first)
    );
    let sign_in = |family: &FamilyId, at: Timestamp, session_expires_at: Timestamp| DeviceSignIn {
        tenant: tenant.clone(),
        user: user.clone(),
        device: first.id.clone(),
        family: family.clone(),
        session_expires_at,
        at,
    };
    let (short, long, late) = (
        FamilyId::generate(&OsRandomness),
        FamilyId::generate(&OsRandomness),
        FamilyId::generate(&OsRandomness),
    );
    for (family, expires_in) in [(&short, 200), (&long, 3_600)] {
        assert_eq!(
            apply(
                stores,
                vec![Write::RecordDeviceSignIn(sign_in(
                    family,
                    at.plus_secs(100),
                    at.plus_secs(expires_in)
                ))]
            )
            .await,
            Applied::Done,
            "an active device records a sign-in"
        );
    }
    assert_eq!(
        stores
            .devices
            .get(&tenant, &user, &first.id)
            .await
            .expect("read")
            .map(|d| d.last_seen),
        Some(at.plus_secs(100)),
        "a sign-in moves last_seen"
    );
    let mut linked = stores
        .devices
        .sessions(&tenant, &user, &first.id, at.plus_secs(100))
        .await
        .expect("listed");
    linked.sort();
    let mut expected = vec![short.clone(), long.clone()];
    expected.sort();
    assert_eq!(linked, expected, "a device lists the sessions it signed in");
    assert_eq!(
        stores
            .devices
            .sessions(&tenant, &user, &first.id, at.plus_secs(300))
            .await
            .expect("listed"),
        vec![long.clone()],
        "an expired session is not listed"
    );
    assert!(
        stores
            .devices
            .sessions(&tenant, &user, &second.id, at)
            .await
            .expect("listed")
            .is_empty(),
        "another device's sessions are not listed"
    );
    let revoke = |user: &UserId, id: &DeviceId| Write::RevokeDevice {
        tenant: tenant.clone(),
        user: user.clone(),
        id: id.clone(),
        now: at,
    };
    assert_eq!(
        apply(stores, vec![revoke(&user, &first.id)]).await,
        Applied::Done
    );
    assert!(
        apply(
            stores,
            vec![Write::RecordDeviceSignIn(sign_in(
                &late,
                at.plus_secs(200),
                at.plus_secs(3_600)
            ))]
        )
        .await
        .refused(0),
        "a revoked device records no sign-in"
    );
    assert!(
        !stores
            .devices
            .sessions(&tenant, &user, &first.id, at.plus_secs(200))
            .await
            .expect("listed")
            .contains(&late),
        "a refused sign-in links no session"
    );
    let stranger_device = DeviceSignIn {
        device: DeviceId::generate(&OsRandomness),
        ..sign_in(&late, at, at.plus_secs(3_600))
    };
    assert!(
        apply(stores, vec![Write::RecordDeviceSignIn(stranger_device)])
            .await
            .refused(0),
        "an unknown device records no sign-in"
    );
    assert!(
        apply(stores, vec![revoke(&user, &first.id)])
            .await
            .refused(0),
        "a device is revoked once"
    );
    let stranger = UserId::generate(&OsRandomness);
    assert!(
        apply(stores, vec![revoke(&stranger, &second.id)])
            .await
            .refused(0),
        "another user cannot revoke the device"
    );
    assert!(stores
        .devices
        .list(&tenant, &stranger)
        .await
        .expect("listed")
        .is_empty());
}

pub async fn refresh_families_rotate_only_from_the_current_token(stores: &Stores) {
    let at = now();
    let pepper = Pepper::generate(&OsRandomness);
    let (h0, h1, h2) = (
        pepper.hash("r", b"0"),
        pepper.hash("r", b"1"),
        pepper.hash("r", b"2"),
    );
    let family = RefreshFamily {
        id: FamilyId::generate(&OsRandomness),
        tenant: tenant(),
        user_id: UserId::generate(&OsRandomness),
        device_id: None,
        amr: vec!["otp".into(), "email".into()],
        current_hash: h0,
        generation: 0,
        created_at: at,
        rotated_at: at,
        expires_at: at.plus_secs(3600),
        revoked_at: None,
    };
    assert_eq!(
        apply(stores, vec![Write::InsertSession(family.clone())]).await,
        Applied::Done
    );
    assert!(
        apply(stores, vec![Write::InsertSession(family.clone())])
            .await
            .refused(0),
        "a family id is taken once"
    );
    let rotate = |expected: &SecretHash, next: &SecretHash, at: Timestamp| Write::RotateSession {
        tenant: family.tenant.clone(),
        id: family.id.clone(),
        expected: *expected,
        next: *next,
        now: at,
    };
    assert_eq!(
        stores
            .sessions
            .get(&family.tenant, &family.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&family)
    );
    assert!(
        apply(stores, vec![rotate(&h1, &h2, at)]).await.refused(0),
        "rotation needs the current hash"
    );
    assert_eq!(
        apply(stores, vec![rotate(&h0, &h1, at.plus_secs(7))]).await,
        Applied::Done
    );
    assert!(
        apply(stores, vec![rotate(&h0, &h2, at)]).await.refused(0),
        "an old hash cannot rotate again"
    );
    let rotated = stores
        .sessions
        .get(&family.tenant, &family.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        (rotated.current_hash, rotated.generation, rotated.rotated_at),
        (h1, 1, at.plus_secs(7)),
        "a rotation stores the new hash, bumps the generation and records when"
    );
    let revoke = |id: &FamilyId| Write::RevokeSession {
        tenant: family.tenant.clone(),
        id: id.clone(),
        now: at,
    };
    assert_eq!(apply(stores, vec![revoke(&family.id)]).await, Applied::Done);
    assert_eq!(
        apply(stores, vec![revoke(&family.id)]).await,
        Applied::Done,
        "revoking again changes nothing and is no error"
    );
    assert!(
        apply(stores, vec![revoke(&FamilyId::generate(&OsRandomness))])
            .await
            .refused(0),
        "a family that does not exist is not created by revoking it"
    );
    assert!(
        apply(stores, vec![rotate(&h1, &h2, at)]).await.refused(0),
        "a revoked family cannot rotate"
    );
    assert!(stores
        .sessions
        .get(&family.tenant, &family.id)
        .await
        .expect("read")
        .expect("present")
        .revoked_at
        .is_some());
}

pub async fn tenants_and_api_keys_are_found_by_id_and_hash(stores: &Stores) {
    let tenant = Tenant::new(
        tenant(),
        crate::tenant::TenantSettings::new(
            "Acme <Shop>".into(),
            vec!["https://a.example/cb".into()],
            TenantPolicy::default(),
        ),
        now(),
    );
    stores.tenants.put_tenant(&tenant).await.expect("stored");
    assert_eq!(
        stores
            .tenants
            .get_tenant(&tenant.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&tenant)
    );
    let pepper = Pepper::generate(&OsRandomness);
    let key = ApiKey::generate(KeyKind::Secret, &OsRandomness);
    let record = ApiKeyRecord {
        hash: key.hash(&pepper),
        tenant: tenant.id.clone(),
        kind: KeyKind::Secret,
        created_at: now(),
        revoked: false,
        id: None,
        expires_at: None,
    };
    stores.tenants.put_api_key(&record).await.expect("stored");
    assert_eq!(
        stores
            .tenants
            .find_api_key(&record.hash)
            .await
            .expect("read")
            .as_ref(),
        Some(&record)
    );
    let unknown = ApiKey::generate(KeyKind::Secret, &OsRandomness).hash(&pepper);
    assert_eq!(
        stores.tenants.find_api_key(&unknown).await.expect("read"),
        None
    );
}
