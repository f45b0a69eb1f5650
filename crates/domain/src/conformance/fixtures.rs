//! The users, devices and sessions the checks start from, built one way for all of them.

use super::{apply, now};
use crate::clock::{OsRandomness, Timestamp};
use crate::device::{Device, DeviceId, Fingerprint, TrustLevel};
use crate::identifier::Identifier;
use crate::secret::Pepper;
use crate::store::{Applied, DeviceSignIn, Stores, Write};
use crate::tenant::TenantId;
use crate::token::{FamilyId, RefreshFamily};
use crate::user::{User, UserId};

/// A user not yet stored, created now, never signed in.
pub(crate) fn user(tenant: &TenantId, identifier: &str) -> User {
    User {
        id: UserId::generate(&OsRandomness),
        tenant: tenant.clone(),
        identifier: Identifier::parse(identifier, None).expect("valid"),
        second_identifier: None,
        created_at: now(),
        disabled_at: None,
        last_sign_in_at: None,
        identifier_reassigned_at: None,
        phone_used_at: None,
    }
}

/// A session of `user` opened at `created`, for an hour, not stored.
pub(crate) fn session(user: &User, created: Timestamp) -> RefreshFamily {
    RefreshFamily {
        id: FamilyId::generate(&OsRandomness),
        tenant: user.tenant.clone(),
        user_id: user.id.clone(),
        device_id: None,
        amr: vec!["otp".into(), "email".into()],
        current_hash: Pepper::generate(&OsRandomness).hash("r", b"0"),
        generation: 0,
        created_at: created,
        rotated_at: created,
        expires_at: created.plus_secs(3600),
        revoked_at: None,
    }
}

/// A trusted device of `user` bound at `at`, not stored.
pub(crate) fn device(user: &User, at: Timestamp) -> Device {
    Device {
        id: DeviceId::generate(&OsRandomness),
        tenant: user.tenant.clone(),
        user_id: user.id.clone(),
        secret_hash: Pepper::generate(&OsRandomness).hash("device", b"s"),
        name: None,
        fingerprint: Fingerprint {
            platform: Some("Linux".into()),
            ..Fingerprint::default()
        },
        trust: TrustLevel::Trusted,
        created_at: at,
        last_seen: at,
        revoked_at: None,
    }
}

/// What [`signed_in_with_device`] stored.
pub(crate) struct WithDevice {
    pub user: User,
    pub device: Device,
    /// The session the device's sign-in opened, linked to the device and the user.
    pub session: RefreshFamily,
}

/// A stored user who bound a device at `at` and signed in with it: the user, the device,
/// and the session the sign-in opened with its links, as the service writes them.
pub(crate) async fn signed_in_with_device(
    stores: &Stores,
    tenant: &TenantId,
    identifier: &str,
    at: Timestamp,
) -> WithDevice {
    let user = user(tenant, identifier);
    let device = device(&user, at);
    let session = RefreshFamily {
        device_id: Some(device.id.clone()),
        ..session(&user, at)
    };
    let sign_in = DeviceSignIn {
        tenant: tenant.clone(),
        user: user.id.clone(),
        device: device.id.clone(),
        family: session.id.clone(),
        session_expires_at: session.expires_at,
        at,
    };
    assert_eq!(
        apply(
            stores,
            vec![
                Write::InsertUser(user.clone()),
                Write::InsertDevice(device.clone())
            ]
        )
        .await,
        Applied::Done
    );
    assert_eq!(
        apply(
            stores,
            vec![
                Write::InsertSession(session.clone()),
                Write::RecordDeviceSignIn(sign_in)
            ]
        )
        .await,
        Applied::Done
    );
    WithDevice {
        user,
        device,
        session,
    }
}
