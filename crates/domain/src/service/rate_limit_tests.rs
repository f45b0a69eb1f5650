//! Rate limits and lockout as a hostile client meets them (security review, issue 9):
//! a refused request must not spend wider scopes' budgets, resends draw on the same
//! budgets as starts, and a locked identifier cannot keep guessing through resend or verify.

use super::testing::Harness;
use super::{Caller, RequestedKind, StartRequest};
use crate::error::AuthError;
use crate::identifier::Identifier;
use crate::rate_limit::{Action, Limit, RateLimitPolicy, Scope, Subject};
use crate::tenant::TenantPolicy;

fn code_for(identifier: &str) -> StartRequest<'_> {
    StartRequest {
        identifier,
        channel: None,
        kind: RequestedKind::Code,
        redirect_uri: None,
        code_challenge: None,
        response_mode: Default::default(),
    }
}

fn limit(scope: Scope, max: u32) -> Limit {
    Limit {
        scope,
        max,
        window_secs: 3600,
    }
}

/// Small budgets so a flood fits in a unit test; the shape is the default policy's.
fn small_budgets() -> TenantPolicy {
    TenantPolicy {
        rate_limits: RateLimitPolicy {
            start: vec![
                limit(Scope::Ip, 30),
                limit(Scope::Identifier, 5),
                limit(Scope::PhonePrefix, 10),
                limit(Scope::PhoneCountry, 20),
                limit(Scope::Tenant, 40),
            ],
            ..RateLimitPolicy::default()
        },
        ..TenantPolicy::default()
    }
}

fn from<'a>(h: &'a Harness, ip: &'a str) -> Caller<'a> {
    Caller {
        tenant: &h.tenant,
        ip: Some(ip),
    }
}

impl Harness {
    /// The tenant-scope start counter of the current window.
    async fn tenant_start_count(&self) -> u64 {
        let pepper = crate::token::KeyMaterial::generate(&crate::OsRandomness).pepper;
        let identifier = Identifier::parse("any@example.com", None).unwrap();
        let [_, shared] = self.tenant.policy.rate_limits.tiers(
            Action::Start,
            Subject {
                tenant: &self.tenant.id,
                ip: None,
                identifier: Some(&identifier),
                device: None,
            },
            self.clock_now(),
            &pepper,
            &crate::OsRandomness,
        );
        let tenant = shared
            .iter()
            .find(|counted| counted.limit.scope == Scope::Tenant)
            .expect("the policy has a tenant limit");
        self.stores
            .counters
            .get(&tenant.counter.key.key, self.clock_now())
            .await
            .unwrap()
            .map_or(0, |value| value.count)
    }
}

#[tokio::test]
async fn one_client_flooding_one_address_cannot_lock_the_tenant_out() {
    let h = Harness::with_policy(small_budgets()).await;
    let mut admitted = 0;
    for _ in 0..41 {
        if h.authkit
            .start_sign_in(from(&h, "203.0.113.1"), code_for("flood@example.com"))
            .await
            .is_ok()
        {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5, "the identifier limit admits five");
    assert_eq!(h.tenant_start_count().await, admitted);
    for (ip, identifier) in [
        ("198.51.100.2", "new@example.com"),
        ("198.51.100.3", "+447400123456"),
    ] {
        let started = h
            .authkit
            .start_sign_in(from(&h, ip), code_for(identifier))
            .await;
        assert!(started.is_ok(), "{identifier}: {started:?}");
    }
    assert_eq!(h.tenant_start_count().await, admitted + 2);
}

#[tokio::test]
async fn one_number_flooding_cannot_lock_its_country_out() {
    let h = Harness::with_policy(small_budgets()).await;
    for i in 0..21 {
        let _ = h
            .authkit
            .start_sign_in(
                from(&h, &format!("203.0.113.{}", i % 2)),
                code_for("+447911123456"),
            )
            .await;
    }
    let other = h
        .authkit
        .start_sign_in(from(&h, "198.51.100.9"), code_for("+447400123456"))
        .await;
    assert!(other.is_ok(), "{other:?}");
}

#[tokio::test]
async fn resends_draw_on_every_budget_a_start_uses() {
    let policy = TenantPolicy {
        resend_cooldown_secs: 0,
        max_resends: 10,
        rate_limits: RateLimitPolicy {
            start: vec![limit(Scope::Identifier, 100), limit(Scope::Tenant, 3)],
            ..RateLimitPolicy::default()
        },
        ..TenantPolicy::default()
    };
    let h = Harness::with_policy(policy).await;
    let started = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    let mut id = started.id.to_string();
    for _ in 0..2 {
        id = h
            .authkit
            .resend(h.caller(), &id)
            .await
            .unwrap()
            .id
            .to_string();
    }
    let over = h.authkit.resend(h.caller(), &id).await;
    assert!(
        matches!(over, Err(AuthError::RateLimited(tripped)) if tripped.scope == Scope::Tenant),
        "{over:?}"
    );
    assert_eq!(h.sender.count(), 3);
}

/// Locks `a@example.com` (cap 2, one attempt per challenge) and returns a challenge started
/// before the lock, still pending.
async fn lock_with_a_pending_challenge(h: &Harness) -> String {
    let pending = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await
        .unwrap();
    for _ in 0..2 {
        let started = h
            .authkit
            .start_sign_in(h.caller(), code_for("a@example.com"))
            .await
            .unwrap();
        let code = h.sender.last_secret();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let _ = h
            .authkit
            .verify_answer(h.caller(), started.id.as_str(), wrong)
            .await;
    }
    let locked = h
        .authkit
        .start_sign_in(h.caller(), code_for("a@example.com"))
        .await;
    assert!(
        matches!(locked, Err(AuthError::IdentifierLocked { .. })),
        "{locked:?}"
    );
    pending.id.to_string()
}

fn lockable() -> TenantPolicy {
    TenantPolicy {
        identifier_failure_cap: 2,
        max_attempts: 1,
        resend_cooldown_secs: 0,
        ..TenantPolicy::default()
    }
}

#[tokio::test]
async fn a_locked_identifier_gets_no_fresh_attempts_by_resending() {
    let h = Harness::with_policy(lockable()).await;
    let pending = lock_with_a_pending_challenge(&h).await;
    let sent_before = h.sender.count();
    let resent = h.authkit.resend(h.caller(), &pending).await;
    assert!(
        matches!(resent, Err(AuthError::IdentifierLocked { .. })),
        "{resent:?}"
    );
    assert_eq!(h.sender.count(), sent_before, "nothing was sent");
}

#[tokio::test]
async fn a_locked_identifier_cannot_answer_a_challenge_started_before_the_lock() {
    let h = Harness::with_policy(lockable()).await;
    let pending = lock_with_a_pending_challenge(&h).await;
    let answered = h
        .authkit
        .verify_answer(h.caller(), &pending, "123456")
        .await;
    assert!(
        matches!(answered, Err(AuthError::IdentifierLocked { .. })),
        "{answered:?}"
    );
}

#[tokio::test]
async fn an_address_typed_in_another_case_is_the_same_user_and_the_same_limit() {
    let h = Harness::new().await;
    let mut users = Vec::new();
    for typed in ["Dave@example.com", "dave@example.com"] {
        let started = h
            .authkit
            .start_sign_in(h.caller(), code_for(typed))
            .await
            .unwrap();
        let sent_to = h.sender.sent.lock().unwrap().last().unwrap().to.clone();
        assert_eq!(sent_to.as_str(), typed, "delivered as typed");
        let code = h.sender.last_secret();
        users.push(
            h.authkit
                .sign_in_with_answer(h.caller(), started.id.as_str(), &code)
                .await
                .unwrap()
                .user_id,
        );
    }
    assert_eq!(users[0], users[1], "one person, one user");
    for typed in ["DAVE@example.com", "dAvE@example.com", "Dave@example.com"] {
        h.authkit
            .start_sign_in(h.caller(), code_for(typed))
            .await
            .unwrap();
    }
    let sixth = h
        .authkit
        .start_sign_in(h.caller(), code_for("dave@EXAMPLE.com"))
        .await;
    assert!(
        matches!(sixth, Err(AuthError::RateLimited(tripped)) if tripped.scope == Scope::Identifier),
        "{sixth:?}"
    );
}
