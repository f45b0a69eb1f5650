//! A tenant that requires PKCE for magic links (security review, finding 5): an unbound
//! link's result is a bearer credential that can be planted in a victim's browser (login
//! CSRF), so such a tenant refuses to start one.

use super::testing::{Harness, REDIRECT};
use super::{RequestedKind, StartRequest};
use crate::error::AuthError;
use crate::tenant::TenantPolicy;

/// BASE64URL(SHA-256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")), RFC 7636 appendix B.
const CODE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn link_for(code_challenge: Option<&str>) -> StartRequest<'_> {
    StartRequest {
        identifier: "a@example.com",
        channel: None,
        kind: RequestedKind::MagicLink,
        redirect_uri: Some(REDIRECT),
        code_challenge,
        response_mode: Default::default(),
    }
}

fn requiring_pkce() -> TenantPolicy {
    serde_json::from_value(serde_json::json!({"magic_link_pkce": "required"})).unwrap()
}

#[tokio::test]
async fn a_tenant_requiring_pkce_refuses_an_unbound_magic_link() {
    let h = Harness::with_policy(requiring_pkce()).await;
    let unbound = h.authkit.start_sign_in(h.caller(), link_for(None)).await;
    assert!(
        matches!(unbound, Err(AuthError::CodeChallengeRequired)),
        "{unbound:?}"
    );
    assert_eq!(h.sender.count(), 0, "nothing is sent");
    h.authkit
        .start_sign_in(h.caller(), link_for(Some(CODE_CHALLENGE)))
        .await
        .unwrap();
}

#[tokio::test]
async fn by_default_and_for_stored_tenants_pkce_stays_optional() {
    let stored: TenantPolicy = serde_json::from_value(serde_json::json!({})).unwrap();
    assert_eq!(stored, TenantPolicy::default());
    let h = Harness::new().await;
    h.authkit
        .start_sign_in(h.caller(), link_for(None))
        .await
        .unwrap();
}
