//! Sessions and devices under attack: refresh-token reuse, revocation reaching every token a
//! session or device issued, and the freshness a device binding needs.

use std::sync::{Arc, Mutex};

use super::testing::{laptop, Harness};
use crate::error::AuthError;
use crate::token::RefreshToken;

/// A refresh token of the same family with a secret nobody was ever given.
fn made_up_secret_for(real: &RefreshToken) -> String {
    let forged = format!("{}.{}", real.family, "A".repeat(43));
    assert_ne!(forged, real.reveal());
    forged
}

#[tokio::test]
async fn a_made_up_secret_with_a_known_family_id_is_invalid_and_ends_nothing() {
    let h = Harness::new().await;
    let real = h.sign_in("a@example.com").await.tokens.refresh_token;
    let forged = h
        .authkit
        .refresh(h.caller(), &made_up_secret_for(&real))
        .await;
    assert!(
        matches!(forged, Err(AuthError::InvalidRefreshToken)),
        "a made-up secret must be merely invalid, got {forged:?}"
    );
    assert!(
        h.authkit.refresh(h.caller(), &real.reveal()).await.is_ok(),
        "a made-up secret revoked the real session"
    );
}

#[tokio::test]
async fn a_retried_refresh_inside_the_grace_window_returns_the_same_new_token() {
    let h = Harness::new().await;
    let original = h
        .sign_in("a@example.com")
        .await
        .tokens
        .refresh_token
        .reveal();
    let first = h.authkit.refresh(h.caller(), &original).await.unwrap();
    h.clock.advance(29);
    let retried = h.authkit.refresh(h.caller(), &original).await;
    let retried = retried.unwrap_or_else(|e| panic!("a retry within 30 s was refused: {e:?}"));
    assert_eq!(
        retried.refresh_token.reveal(),
        first.refresh_token.reveal(),
        "a retry must get the same new refresh token, not fork the session"
    );
    assert!(h
        .authkit
        .authenticate_access_token(&h.tenant.id, &retried.access_token)
        .is_ok());
    let next = h
        .authkit
        .refresh(h.caller(), &first.refresh_token.reveal())
        .await;
    assert!(next.is_ok(), "the new token must still rotate: {next:?}");
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_get_the_same_new_token() {
    let h = Harness::new().await;
    let original = h
        .sign_in("a@example.com")
        .await
        .tokens
        .refresh_token
        .reveal();
    let outcomes = tokio::join!(
        h.authkit.refresh(h.caller(), &original),
        h.authkit.refresh(h.caller(), &original),
    );
    let (a, b) = match outcomes {
        (Ok(a), Ok(b)) => (a, b),
        other => panic!("two tabs refreshing at once logged the user out: {other:?}"),
    };
    assert_eq!(a.refresh_token.reveal(), b.refresh_token.reveal());
}

#[tokio::test]
async fn the_previous_token_after_the_grace_window_is_reuse_and_ends_the_session() {
    let h = Harness::new().await;
    let original = h
        .sign_in("a@example.com")
        .await
        .tokens
        .refresh_token
        .reveal();
    let rotated = h.authkit.refresh(h.caller(), &original).await.unwrap();
    h.clock.advance(31);
    let replayed = h.authkit.refresh(h.caller(), &original).await;
    assert!(
        matches!(replayed, Err(AuthError::RefreshTokenReused)),
        "{replayed:?}"
    );
    assert!(matches!(
        h.authkit
            .refresh(h.caller(), &rotated.refresh_token.reveal())
            .await,
        Err(AuthError::InvalidRefreshToken)
    ));
}

#[tokio::test]
async fn a_real_token_several_rotations_old_is_reuse_even_inside_the_grace_window() {
    let h = Harness::new().await;
    let original = h
        .sign_in("a@example.com")
        .await
        .tokens
        .refresh_token
        .reveal();
    let mut current = original.clone();
    for _ in 0..3 {
        current = h
            .authkit
            .refresh(h.caller(), &current)
            .await
            .unwrap()
            .refresh_token
            .reveal();
    }
    let replayed = h.authkit.refresh(h.caller(), &original).await;
    assert!(
        matches!(replayed, Err(AuthError::RefreshTokenReused)),
        "{replayed:?}"
    );
    assert!(matches!(
        h.authkit.refresh(h.caller(), &current).await,
        Err(AuthError::InvalidRefreshToken)
    ));
}

/// Every log line the test process writes. A process-wide subscriber, because a
/// thread-local one misses events whose callsite another test thread registered first.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn captured_logs() -> &'static CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a global subscriber");
        logs
    })
}

#[tokio::test]
async fn logs_never_carry_a_whole_family_id() {
    let logs = captured_logs();
    let h = Harness::new().await;
    let original = h.sign_in("a@example.com").await.tokens.refresh_token;
    let mut current = original.reveal();
    for _ in 0..2 {
        current = h
            .authkit
            .refresh(h.caller(), &current)
            .await
            .unwrap()
            .refresh_token
            .reveal();
    }
    let _ = h.authkit.refresh(h.caller(), &original.reveal()).await;
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let family = original.family.as_str();
    assert!(
        text.lines()
            .any(|line| line.contains("refresh_reuse") && line.contains(&family[..12])),
        "the reuse was not logged with a family tag: {text}"
    );
    assert!(
        !text.contains(family),
        "a log line names the whole family id, which lets a reader target the session"
    );
}

/// A user signed in by code who binds a trusted laptop and signs in with it.
struct DeviceSession {
    by_code: super::SignedIn,
    credential: String,
    device_id: crate::device::DeviceId,
    by_device: super::SignedIn,
}

async fn device_session(h: &Harness) -> DeviceSession {
    let with_device = h
        .sign_in_with_device("a@example.com", Some("Laptop"), true)
        .await;
    let credential = with_device.credential();
    let (by_code, bound) = (with_device.signed_in, with_device.bound);
    let by_device = h
        .authkit
        .sign_in_with_device(h.caller(), &credential, &laptop())
        .await
        .unwrap();
    DeviceSession {
        by_code,
        credential,
        device_id: bound.device.id,
        by_device,
    }
}

#[tokio::test]
async fn revoking_a_device_ends_the_sessions_it_signed_in() {
    let h = Harness::new().await;
    let session = device_session(&h).await;
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &session.by_code.tokens.access_token)
        .unwrap();
    h.authkit
        .revoke_device(h.caller(), &claims, session.device_id.as_str())
        .await
        .unwrap();
    let refreshed = h
        .authkit
        .refresh(h.caller(), &session.by_device.tokens.refresh_token.reveal())
        .await;
    assert!(
        matches!(refreshed, Err(AuthError::InvalidRefreshToken)),
        "a session opened by a revoked device still refreshes: {refreshed:?}"
    );
    assert!(
        h.authkit
            .refresh(h.caller(), &session.by_code.tokens.refresh_token.reveal())
            .await
            .is_ok(),
        "the code sign-in that bound the device is not the device's session"
    );
}

#[tokio::test]
async fn a_device_sign_in_cannot_bind_another_device() {
    let h = Harness::new().await;
    let session = device_session(&h).await;
    let device_claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &session.by_device.tokens.access_token)
        .unwrap();
    let bound = h
        .authkit
        .bind_device(h.caller(), &device_claims, laptop(), None, true)
        .await;
    assert!(
        matches!(bound, Err(AuthError::StepUpRequired)),
        "a device sign-in bound a new trusted device, so one stolen credential lasts forever"
    );
}

#[tokio::test]
async fn binding_a_device_needs_a_sign_in_from_the_last_ten_minutes() {
    let h = Harness::new().await;
    let signed_in = h.sign_in("a@example.com").await;
    h.clock.advance(9 * 60);
    let recent = h
        .authkit
        .refresh(h.caller(), &signed_in.tokens.refresh_token.reveal())
        .await
        .unwrap();
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &recent.access_token)
        .unwrap();
    assert!(h
        .authkit
        .bind_device(h.caller(), &claims, laptop(), None, true)
        .await
        .is_ok());
    h.clock.advance(2 * 60);
    let later = h
        .authkit
        .refresh(h.caller(), &recent.refresh_token.reveal())
        .await
        .unwrap();
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &later.access_token)
        .unwrap();
    assert!(
        matches!(
            h.authkit
                .bind_device(h.caller(), &claims, laptop(), None, true)
                .await,
            Err(AuthError::StepUpRequired)
        ),
        "a fresh access token from an 11-minute-old sign-in bound a device"
    );
}

const DAY: i64 = 86_400;

#[tokio::test]
async fn a_device_unused_for_ninety_days_can_no_longer_sign_in() {
    let h = Harness::new().await;
    let session = device_session(&h).await;
    for _ in 0..2 {
        h.clock.advance(89 * DAY);
        assert!(
            h.authkit
                .sign_in_with_device(h.caller(), &session.credential, &laptop())
                .await
                .is_ok(),
            "each use keeps the device alive for another 90 days"
        );
    }
    h.clock.advance(90 * DAY);
    assert!(
        matches!(
            h.authkit
                .sign_in_with_device(h.caller(), &session.credential, &laptop())
                .await,
            Err(AuthError::DeviceSignInRefused)
        ),
        "a device idle for 90 days still signs in"
    );
}

#[tokio::test]
async fn a_device_expires_a_year_after_binding_however_often_it_is_used() {
    let h = Harness::new().await;
    let session = device_session(&h).await;
    for _ in 0..4 {
        h.clock.advance(80 * DAY);
        assert!(h
            .authkit
            .sign_in_with_device(h.caller(), &session.credential, &laptop())
            .await
            .is_ok());
    }
    h.clock.advance(46 * DAY);
    assert!(
        matches!(
            h.authkit
                .sign_in_with_device(h.caller(), &session.credential, &laptop())
                .await,
            Err(AuthError::DeviceSignInRefused)
        ),
        "a device bound 366 days ago still signs in"
    );
}

#[tokio::test]
async fn introspection_reports_only_live_tokens_of_the_asking_tenant() {
    let h = Harness::new().await;
    let signed_in = h.sign_in("a@example.com").await;
    let access = &signed_in.tokens.access_token;
    let claims = h
        .authkit
        .introspect(&h.tenant.id, access)
        .await
        .unwrap()
        .expect("a fresh token is active");
    assert_eq!(claims.sid, signed_in.tokens.refresh_token.family);
    assert_eq!(claims.auth_time, h.clock_now().0);

    let other = h
        .authkit
        .create_tenant(super::NewTenant {
            id: crate::tenant::TenantId::parse("globex").unwrap(),
            name: "Globex".into(),
            allowed_redirect_uris: vec![],
            policy: Default::default(),
        })
        .await
        .unwrap();
    assert!(
        h.authkit
            .introspect(&other.tenant.id, access)
            .await
            .unwrap()
            .is_none(),
        "another tenant's token is reported active"
    );
    let refresh = signed_in.tokens.refresh_token.reveal();
    assert!(
        h.authkit
            .introspect(&h.tenant.id, &refresh)
            .await
            .unwrap()
            .is_none(),
        "a refresh token is never active"
    );
    h.clock
        .advance(i64::from(h.tenant.policy.access_token_ttl_secs) + 60);
    assert!(
        h.authkit
            .introspect(&h.tenant.id, access)
            .await
            .unwrap()
            .is_none(),
        "an expired token is reported active"
    );
}

#[tokio::test]
async fn revoking_a_device_ends_its_access_tokens_at_once() {
    let h = Harness::new().await;
    let session = device_session(&h).await;
    let device_access = &session.by_device.tokens.access_token;
    assert!(h
        .authkit
        .authenticate_live_access_token(&h.tenant.id, device_access)
        .await
        .is_ok());
    let claims = h
        .authkit
        .authenticate_access_token(&h.tenant.id, &session.by_code.tokens.access_token)
        .unwrap();
    h.authkit
        .revoke_device(h.caller(), &claims, session.device_id.as_str())
        .await
        .unwrap();
    assert!(matches!(
        h.authkit
            .authenticate_live_access_token(&h.tenant.id, device_access)
            .await,
        Err(AuthError::InvalidAccessToken)
    ));
    assert!(h
        .authkit
        .introspect(&h.tenant.id, device_access)
        .await
        .unwrap()
        .is_none());
}
