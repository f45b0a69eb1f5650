//! The tenant lifecycle, API keys and who may use them, through the service.

use serde_json::json;

use super::testing::{code_for, Harness};
use super::{Actor, IdempotencyKey, PageRequest, RequestContext, TENANT_RETENTION_SECS};
use crate::error::AuthError;
use crate::event::EventKind;
use crate::identifier::Channel;
use crate::tenant::{
    DeploymentOrigins, KeyKind, SettingsPatch, TenantId, TenantPolicy, TenantSettings,
    TenantStatus, WebOrigin,
};

fn operator() -> Actor {
    Actor::Operator("arn:aws:iam::123456789012:user/ops".into())
}

fn settings(name: &str) -> TenantSettings {
    TenantSettings::new(
        name.into(),
        vec!["https://shop.example.com/cb".into()],
        TenantPolicy::default(),
    )
}

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw).unwrap()
}

fn id(raw: &str) -> TenantId {
    TenantId::parse(raw).unwrap()
}

const NO_CONTEXT: RequestContext<'static> = RequestContext {
    origin: None,
    ip: None,
};

#[tokio::test]
async fn a_retried_creation_returns_the_same_tenant_and_keys_and_makes_no_more() {
    let h = Harness::new().await;
    let (actor, retry) = (operator(), key("retry-1"));
    let create = || {
        h.authkit
            .create_tenant_as(&actor, id("shop"), settings("Shop"), Some(&retry))
    };
    let first = create().await.unwrap();
    let retried = create().await.unwrap();
    assert_eq!(retried.tenant.id, first.tenant.id);
    assert_eq!(retried.secret_key.reveal(), first.secret_key.reveal());
    assert_eq!(
        retried.publishable_key.reveal(),
        first.publishable_key.reveal()
    );
    assert_eq!(retried.keys, first.keys);
    let listed = h
        .authkit
        .list_api_keys(&first.tenant.id, &PageRequest::parse(None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(
        listed.items.len(),
        2,
        "a retry makes no second pair of keys"
    );
    for created in [&first.secret_key, &first.publishable_key] {
        let (tenant, _) = h
            .authkit
            .authenticate_api_key(&created.reveal())
            .await
            .unwrap();
        assert_eq!(tenant.id, first.tenant.id);
    }

    let other = h
        .authkit
        .create_tenant_as(
            &operator(),
            id("other"),
            settings("Other"),
            Some(&key("retry-1")),
        )
        .await;
    assert!(
        matches!(other, Err(AuthError::IdempotencyKeyReused)),
        "{other:?}"
    );
    let taken = h
        .authkit
        .create_tenant_as(
            &operator(),
            id("shop"),
            settings("Shop"),
            Some(&key("retry-2")),
        )
        .await;
    assert!(matches!(taken, Err(AuthError::TenantExists)), "{taken:?}");
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_until_reactivated_and_a_deleted_one_is_gone() {
    let h = Harness::new().await;
    let created = h
        .authkit
        .create_tenant_as(&operator(), id("shop"), settings("Shop"), None)
        .await
        .unwrap();
    let secret = created.secret_key.reveal();
    let suspended = h
        .authkit
        .suspend_tenant(&operator(), &id("shop"))
        .await
        .unwrap();
    assert_eq!(suspended.status, TenantStatus::Suspended);
    let refused = h.authkit.authenticate_request(&secret, &NO_CONTEXT).await;
    assert!(
        matches!(refused, Err(AuthError::TenantSuspended)),
        "{refused:?}"
    );
    let link = h.authkit.tenant("shop").await;
    assert!(matches!(link, Err(AuthError::TenantSuspended)), "{link:?}");
    assert_eq!(
        h.authkit.managed_tenant("shop").await.unwrap().status,
        TenantStatus::Suspended,
        "operators still see it"
    );

    h.authkit
        .reactivate_tenant(&operator(), &id("shop"))
        .await
        .unwrap();
    h.authkit
        .authenticate_request(&secret, &NO_CONTEXT)
        .await
        .unwrap();

    let deleted = h
        .authkit
        .delete_tenant(&operator(), &id("shop"))
        .await
        .unwrap();
    assert_eq!(deleted.status, TenantStatus::Deleted);
    assert_eq!(
        deleted.purge_at,
        Some(h.clock_now().plus_secs(TENANT_RETENTION_SECS))
    );
    let refused = h.authkit.authenticate_request(&secret, &NO_CONTEXT).await;
    assert!(
        matches!(refused, Err(AuthError::InvalidApiKey)),
        "{refused:?}"
    );
    assert!(matches!(
        h.authkit.managed_tenant("shop").await,
        Err(AuthError::TenantNotFound)
    ));
    assert!(matches!(
        h.authkit.suspend_tenant(&operator(), &id("shop")).await,
        Err(AuthError::TenantNotFound)
    ));
    let again = h
        .authkit
        .create_tenant_as(&operator(), id("shop"), settings("Shop"), None)
        .await;
    assert!(
        matches!(again, Err(AuthError::TenantExists)),
        "a deleted tenant's id is never given out again: {again:?}"
    );

    let audited: Vec<(EventKind, Option<String>)> = h
        .audit_of(&id("shop"), 10)
        .await
        .into_iter()
        .map(|event| (event.kind, event.detail))
        .collect();
    let who = Some("operator:arn:aws:iam::123456789012:user/ops".to_owned());
    for kind in [
        EventKind::TenantCreated,
        EventKind::TenantSuspended,
        EventKind::TenantReactivated,
        EventKind::TenantDeleted,
    ] {
        assert!(
            audited.contains(&(kind, who.clone())),
            "{kind:?} in {audited:?}"
        );
    }
}

#[tokio::test]
async fn settings_change_only_over_the_revision_named_and_wrong_ones_name_their_field() {
    let h = Harness::new().await;
    let tenant = h.tenant.id.clone();
    let patch = |value| SettingsPatch::parse(value).unwrap();
    let changed = h
        .authkit
        .update_tenant_settings(
            &Actor::SecretKey(None),
            &tenant,
            &patch(json!({"name": "Acme Shop", "policy": {"code_length": 8}})),
            Some(h.tenant.revision),
        )
        .await
        .unwrap();
    assert_eq!(changed.revision, h.tenant.revision + 1);
    assert_eq!(changed.name, "Acme Shop");
    assert_eq!(changed.policy.code_length.get(), 8);

    let lost = h
        .authkit
        .update_tenant_settings(
            &Actor::SecretKey(None),
            &tenant,
            &patch(json!({"name": "Stale"})),
            Some(h.tenant.revision),
        )
        .await;
    assert!(
        matches!(lost, Err(AuthError::PreconditionFailed)),
        "{lost:?}"
    );
    let wrong = h
        .authkit
        .update_tenant_settings(
            &Actor::SecretKey(None),
            &tenant,
            &patch(json!({"policy": {"max_attempts": 0}})),
            None,
        )
        .await;
    match wrong {
        Err(AuthError::InvalidSetting(invalid)) => {
            assert_eq!(invalid.pointer, "/policy/max_attempts")
        }
        other => panic!("{other:?}"),
    }
    let unchanged = h
        .authkit
        .update_tenant_settings(&Actor::SecretKey(None), &tenant, &patch(json!({})), None)
        .await
        .unwrap();
    assert_eq!(
        unchanged.revision, changed.revision,
        "no change, no revision"
    );
}

#[tokio::test]
async fn a_disabled_channel_is_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    h.authkit
        .update_tenant_settings(
            &Actor::System,
            &h.tenant.id,
            &SettingsPatch::parse(json!({"enabled_channels": ["sms"]})).unwrap(),
            None,
        )
        .await
        .unwrap();
    let tenant = h.authkit.tenant("acme").await.unwrap();
    let caller = super::Caller {
        tenant: &tenant,
        ip: None,
    };
    let refused = h
        .authkit
        .start_sign_in(caller, code_for("jane@example.com"))
        .await;
    assert!(
        matches!(refused, Err(AuthError::ChannelDisabled(Channel::Email))),
        "{refused:?}"
    );
    assert_eq!(h.sender.count(), 0);
}

#[tokio::test]
async fn keys_are_judged_by_kind_origin_and_address() {
    let h = Harness::new().await;
    let created = h
        .authkit
        .create_tenant_as(&operator(), id("shop"), settings("Shop"), None)
        .await
        .unwrap();
    let (publishable, secret) = (
        created.publishable_key.reveal(),
        created.secret_key.reveal(),
    );
    let from = |origin| RequestContext {
        origin: Some(origin),
        ip: None,
    };
    let in_browser = h
        .authkit
        .authenticate_request(&secret, &from("https://shop.example.com"))
        .await;
    assert!(
        matches!(in_browser, Err(AuthError::SecretKeyInBrowser)),
        "{in_browser:?}"
    );
    let unlisted = h
        .authkit
        .authenticate_request(&publishable, &from("https://shop.example.com"))
        .await;
    assert!(
        matches!(unlisted, Err(AuthError::OriginNotAllowed)),
        "a new tenant starts with an empty list: {unlisted:?}"
    );
    h.authkit
        .update_tenant_settings(
            &operator(),
            &id("shop"),
            &SettingsPatch::parse(json!({
                "allowed_origins": ["https://shop.example.com"],
                "ip_allowlist": ["203.0.113.0/24"]
            }))
            .unwrap(),
            None,
        )
        .await
        .unwrap();
    let allowed = h
        .authkit
        .authenticate_request(&publishable, &from("https://shop.example.com"))
        .await
        .unwrap();
    assert_eq!(
        allowed.allowed_origin,
        Some(WebOrigin::parse("https://shop.example.com").unwrap())
    );
    for (ip, ok) in [
        (Some("203.0.113.9"), true),
        (Some("198.51.100.1"), false),
        (None, false),
    ] {
        let context = RequestContext {
            origin: None,
            ip: ip.map(|ip| ip.parse().unwrap()),
        };
        let judged = h.authkit.authenticate_request(&secret, &context).await;
        assert_eq!(judged.is_ok(), ok, "{ip:?}: {judged:?}");
        if !ok {
            assert!(matches!(judged, Err(AuthError::IpNotAllowed)));
        }
    }
    h.authkit
        .authenticate_request(&publishable, &NO_CONTEXT)
        .await
        .expect("the allowlist is for secret keys only");
}

#[tokio::test]
async fn a_tenant_without_a_list_keeps_the_deployments_origins() {
    let h =
        Harness::with_default_origins(DeploymentOrigins::parse("https://app.example.com").unwrap())
            .await;
    let mut legacy = h.tenant.clone();
    legacy.allowed_origins = None;
    h.stores.tenants.put_tenant(&legacy).await.unwrap();
    let publishable = h.publishable_key.reveal();
    for (origin, ok) in [
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let context = RequestContext {
            origin: Some(origin),
            ip: None,
        };
        let judged = h.authkit.authenticate_request(&publishable, &context).await;
        assert_eq!(judged.is_ok(), ok, "{origin}: {judged:?}");
    }
}

#[tokio::test]
async fn a_rotated_key_works_until_its_overlap_ends_and_a_revoked_one_stops_at_once() {
    let h = Harness::new().await;
    let created = h
        .authkit
        .create_tenant_as(&operator(), id("shop"), settings("Shop"), None)
        .await
        .unwrap();
    let old = &created.keys[1];
    assert_eq!(old.kind, KeyKind::Secret);
    let (actor, shop, retry) = (
        Actor::SecretKey(Some(old.id.clone())),
        id("shop"),
        key("rotate-1"),
    );
    let rotate = || {
        h.authkit
            .rotate_api_key(&actor, &shop, old.id.as_str(), 3_600, Some(&retry))
    };
    let rotated = rotate().await.unwrap();
    assert_eq!(
        rotated.replaced.expires_at,
        Some(h.clock_now().plus_secs(3_600))
    );
    let retried = rotate().await.unwrap();
    assert_eq!(retried.issued.key.reveal(), rotated.issued.key.reveal());
    assert_eq!(retried.issued.entry.id, rotated.issued.entry.id);

    let old_secret = created.secret_key.reveal();
    let new_secret = rotated.issued.key.reveal();
    h.authkit
        .authenticate_request(&old_secret, &NO_CONTEXT)
        .await
        .unwrap();
    h.clock.advance(3_600);
    assert!(matches!(
        h.authkit
            .authenticate_request(&old_secret, &NO_CONTEXT)
            .await,
        Err(AuthError::InvalidApiKey)
    ));
    h.authkit
        .authenticate_request(&new_secret, &NO_CONTEXT)
        .await
        .unwrap();

    let revoked = h
        .authkit
        .revoke_api_key(&operator(), &id("shop"), rotated.issued.entry.id.as_str())
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(matches!(
        h.authkit
            .authenticate_request(&new_secret, &NO_CONTEXT)
            .await,
        Err(AuthError::InvalidApiKey)
    ));
    let again = h
        .authkit
        .rotate_api_key(&operator(), &id("shop"), revoked.id.as_str(), 60, None)
        .await;
    assert!(matches!(again, Err(AuthError::ApiKeyNotLive)), "{again:?}");
    let elsewhere = h
        .authkit
        .revoke_api_key(&operator(), &h.tenant.id, created.keys[0].id.as_str())
        .await;
    assert!(
        matches!(elsewhere, Err(AuthError::ApiKeyNotFound)),
        "another tenant's key is not found: {elsewhere:?}"
    );
}

#[tokio::test]
async fn a_keys_use_is_written_at_most_once_a_minute() {
    let h = Harness::new().await;
    let created = h
        .authkit
        .create_tenant_as(&operator(), id("shop"), settings("Shop"), None)
        .await
        .unwrap();
    let secret = created.secret_key.reveal();
    let last_used = || async {
        h.authkit
            .api_key(&id("shop"), created.keys[1].id.as_str())
            .await
            .unwrap()
            .last_used_at
    };
    let use_key = || async {
        let caller = h
            .authkit
            .authenticate_request(&secret, &NO_CONTEXT)
            .await
            .unwrap();
        if let Some(note) = h.authkit.key_use_note(&caller) {
            note.await;
        }
    };
    let caller = h
        .authkit
        .authenticate_request(&secret, &NO_CONTEXT)
        .await
        .unwrap();
    assert_eq!(
        last_used().await,
        None,
        "authenticating writes nothing: the note runs beside the request"
    );
    h.authkit.key_use_note(&caller).unwrap().await;
    let first = h.clock_now();
    assert_eq!(last_used().await, Some(first));
    h.clock.advance(30);
    use_key().await;
    assert_eq!(last_used().await, Some(first));
    h.clock.advance(30);
    use_key().await;
    assert_eq!(last_used().await, Some(first.plus_secs(60)));
}

#[tokio::test]
async fn tenants_are_listed_page_by_page() {
    let h = Harness::new().await;
    for name in ["bravo", "charlie", "delta"] {
        h.authkit
            .create_tenant_as(&operator(), id(name), settings(name), None)
            .await
            .unwrap();
    }
    let first = h
        .authkit
        .list_tenants(&PageRequest::parse(Some(2), None).unwrap())
        .await
        .unwrap();
    let ids: Vec<&str> = first.items.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["acme", "bravo"]);
    assert!(first.has_more);
    let rest = h
        .authkit
        .list_tenants(&PageRequest::parse(Some(2), Some("bravo".into())).unwrap())
        .await
        .unwrap();
    let ids: Vec<&str> = rest.items.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["charlie", "delta"]);
    assert!(!rest.has_more);
    assert!(PageRequest::parse(Some(0), None).is_err());
    assert!(PageRequest::parse(Some(101), None).is_err());
}
