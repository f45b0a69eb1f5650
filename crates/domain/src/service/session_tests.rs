//! Sessions and devices under attack: refresh-token reuse, revocation reaching every token a
//! session or device issued, and the freshness a device binding needs.

use std::sync::{Arc, Mutex};

use super::testing::Harness;
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
