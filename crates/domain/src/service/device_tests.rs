//! A stolen trusted-device credential used from the thief's own machine (security review,
//! finding 4): the fingerprint must cover what the device was bound with, device sign-in is
//! rate limited per IP and per device, and repeated mismatches revoke the device.

use super::testing::{laptop, Harness};
use super::Caller;
use crate::device::Fingerprint;
use crate::error::AuthError;
use crate::secret::OpaqueSecret;
use crate::OsRandomness;

async fn bound_laptop(h: &Harness) -> (String, crate::token::AccessClaims) {
    let with_device = h.sign_in_with_device("a@example.com", None, true).await;
    (with_device.credential(), with_device.claims)
}

fn from<'a>(h: &'a Harness, ip: &'a str) -> Caller<'a> {
    Caller {
        tenant: &h.tenant,
        ip: Some(ip),
    }
}

fn rate_limited_by(result: &Result<super::SignedIn, AuthError>) -> Option<&'static str> {
    match result {
        Err(AuthError::RateLimited(limited)) => Some(limited.scope.as_str()),
        _ => None,
    }
}

#[tokio::test]
async fn a_stolen_credential_with_one_guessed_field_is_refused() {
    let h = Harness::new().await;
    let (credential, _) = bound_laptop(&h).await;
    let one_field = Fingerprint {
        color_depth: laptop().color_depth,
        ..Fingerprint::default()
    };
    let result = h
        .authkit
        .sign_in_with_device(h.caller(), &credential, &one_field)
        .await;
    assert!(
        matches!(result, Err(AuthError::DeviceSignInRefused)),
        "{result:?}"
    );
}

#[tokio::test]
async fn device_sign_in_is_rate_limited_per_device_from_any_address() {
    let h = Harness::new().await;
    let (credential, _) = bound_laptop(&h).await;
    let (prefix, _) = credential.rsplit_once('.').unwrap();
    let mut outcomes = Vec::new();
    for attempt in 0..11 {
        let wrong = format!(
            "{prefix}.{}",
            OpaqueSecret::generate(&OsRandomness).expose()
        );
        let ip = format!("203.0.113.{attempt}");
        let result = h
            .authkit
            .sign_in_with_device(from(&h, &ip), &wrong, &laptop())
            .await;
        outcomes.push(rate_limited_by(&result));
    }
    assert!(outcomes[..10].iter().all(Option::is_none), "{outcomes:?}");
    assert_eq!(outcomes[10], Some("device"));
    // The device's own budget is spent for this window: even its owner waits.
    let owner = h
        .authkit
        .sign_in_with_device(h.caller(), &credential, &laptop())
        .await;
    assert_eq!(rate_limited_by(&owner), Some("device"));
}

#[tokio::test]
async fn device_sign_in_is_rate_limited_per_address() {
    let h = Harness::new().await;
    let (credential, _) = bound_laptop(&h).await;
    let (user, _) = credential.split_once('.').unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..31 {
        let device = crate::device::DeviceId::generate(&OsRandomness);
        let guess = format!(
            "{user}.{device}.{}",
            OpaqueSecret::generate(&OsRandomness).expose()
        );
        let result = h
            .authkit
            .sign_in_with_device(from(&h, "203.0.113.50"), &guess, &laptop())
            .await;
        outcomes.push(rate_limited_by(&result));
    }
    assert!(outcomes[..30].iter().all(Option::is_none), "{outcomes:?}");
    assert_eq!(outcomes[30], Some("ip"));
}

#[tokio::test]
async fn repeated_fingerprint_mismatches_revoke_the_device() {
    let h = Harness::new().await;
    let (credential, claims) = bound_laptop(&h).await;
    let thief = Fingerprint {
        platform: Some("Win32".into()),
        timezone: Some("Asia/Shanghai".into()),
        ..Fingerprint::default()
    };
    for attempt in 0..5 {
        let ip = format!("203.0.113.{attempt}");
        let result = h
            .authkit
            .sign_in_with_device(from(&h, &ip), &credential, &thief)
            .await;
        assert!(
            matches!(result, Err(AuthError::DeviceSignInRefused)),
            "{result:?}"
        );
    }
    let devices = h.authkit.list_devices(h.caller(), &claims).await.unwrap();
    assert!(devices[0].revoked_at.is_some(), "{devices:?}");
    assert!(matches!(
        h.authkit
            .sign_in_with_device(h.caller(), &credential, &laptop())
            .await,
        Err(AuthError::DeviceSignInRefused)
    ));
}

#[tokio::test]
async fn a_few_mismatches_leave_the_device_working() {
    let h = Harness::new().await;
    let (credential, _) = bound_laptop(&h).await;
    let travelling = Fingerprint {
        timezone: Some("America/New_York".into()),
        screen: Some("1920x1080".into()),
        ..laptop()
    };
    for _ in 0..4 {
        assert!(h
            .authkit
            .sign_in_with_device(h.caller(), &credential, &travelling)
            .await
            .is_err());
    }
    h.authkit
        .sign_in_with_device(h.caller(), &credential, &laptop())
        .await
        .unwrap();
}
