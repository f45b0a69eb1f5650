//! The tenant registry's behaviour, for every store: creation all or nothing and once per
//! id and idempotency key, listings page by page, revision-guarded changes, deletion with
//! a tombstone, keys rotated, revoked and their use noted at most once a minute.

use super::{now, tenant};
use crate::clock::{OsRandomness, Timestamp};
use crate::event::{Event, EventKind, Outcome};
use crate::registry::{
    IdempotencyRecord, IdempotencyScope, KeyCreation, TenantCreation, Written,
    IDEMPOTENCY_WINDOW_SECS,
};
use crate::secret::Pepper;
use crate::store::Stores;
use crate::tenant::{
    ApiKey, ApiKeyEntry, ApiKeyId, KeyKind, Tenant, TenantId, TenantPolicy, TenantSettings,
    TenantStatus,
};

pub async fn check_all(stores: &Stores) {
    a_tenant_is_created_with_its_keys_once_and_its_id_never_again(stores).await;
    a_retried_creation_finds_its_idempotency_record(stores).await;
    tenants_are_listed_by_id_page_by_page(stores).await;
    tenant_changes_apply_only_over_the_revision_read(stores).await;
    keys_are_listed_newest_first_rotated_and_revoked(stores).await;
    a_key_use_is_noted_at_most_once_a_minute(stores).await;
    a_deleted_tenants_records_read_as_absent_once_purged(stores).await;
}

pub(super) fn admin_event(tenant: &TenantId, kind: EventKind) -> Event {
    let mut event = Event::new(tenant, kind, Outcome::Success, now(), &OsRandomness);
    event.detail = Some("by operator conformance".into());
    event
}

pub(super) async fn recorded(stores: &Stores, event: &Event) -> bool {
    stores
        .changes
        .recorded_event(&event.tenant, &event.id)
        .await
        .expect("read")
        .is_some()
}

pub(super) fn new_tenant(id: TenantId) -> Tenant {
    let settings = TenantSettings::new(
        "Registry".into(),
        vec!["https://app.example.com/cb".into()],
        TenantPolicy::default(),
    );
    Tenant::new(id, settings, now())
}

pub(super) fn key_entry(
    tenant: &TenantId,
    kind: KeyKind,
    at: Timestamp,
) -> (ApiKey, ApiKeyEntry, Pepper) {
    let pepper = Pepper::generate(&OsRandomness);
    let key = ApiKey::generate(kind, &OsRandomness);
    let id = ApiKeyId::generate_at(at, &OsRandomness);
    let entry = ApiKeyEntry::new(id, &key, tenant.clone(), &pepper, at);
    (key, entry, pepper)
}

pub(super) fn idempotency(scope: IdempotencyScope, created: Vec<String>) -> IdempotencyRecord {
    let mut key = [0u8; 8];
    crate::Randomness::fill(&OsRandomness, &mut key);
    IdempotencyRecord {
        scope,
        key_digest: IdempotencyRecord::digest(&hex::encode(key)),
        fingerprint: "f".repeat(64),
        seed: "0".repeat(64),
        created,
        created_at: now(),
        expires_at: now().plus_secs(IDEMPOTENCY_WINDOW_SECS),
    }
}

async fn create(stores: &Stores, tenant: &Tenant, keys: Vec<ApiKeyEntry>) -> Written {
    create_recording(stores, tenant, keys).await.0
}

/// Creates the tenant, and says whether the creation's event was recorded.
async fn create_recording(
    stores: &Stores,
    tenant: &Tenant,
    keys: Vec<ApiKeyEntry>,
) -> (Written, bool) {
    let creation = TenantCreation {
        tenant: tenant.clone(),
        keys,
        idempotency: None,
        event: admin_event(&tenant.id, EventKind::TenantCreated),
        owner: None,
    };
    let written = stores
        .registry
        .create_tenant(&creation)
        .await
        .expect("the store answers");
    (written, recorded(stores, &creation.event).await)
}

pub async fn a_tenant_is_created_with_its_keys_once_and_its_id_never_again(stores: &Stores) {
    let tenant = new_tenant(tenant());
    let (_, publishable, _) = key_entry(&tenant.id, KeyKind::Publishable, now());
    let (_, secret, _) = key_entry(&tenant.id, KeyKind::Secret, now());
    let written =
        create_recording(stores, &tenant, vec![publishable.clone(), secret.clone()]).await;
    assert_eq!(
        written,
        (Written::Done, true),
        "a creation records its event with it"
    );
    let stored = stores.tenants.get_tenant(&tenant.id).await.expect("read");
    assert_eq!(
        stored.as_ref(),
        Some(&tenant),
        "the tenant reads back whole"
    );
    for entry in [&publishable, &secret] {
        let record = stores
            .tenants
            .find_api_key(&entry.hash)
            .await
            .expect("read");
        assert_eq!(record, Some(entry.record()), "a key is found by its hash");
        let listed = stores
            .registry
            .get_api_key(&tenant.id, &entry.id)
            .await
            .expect("read");
        assert_eq!(
            listed.as_ref(),
            Some(entry),
            "a key is found under its tenant"
        );
    }

    let (_, stray, _) = key_entry(&tenant.id, KeyKind::Secret, now());
    let again = create_recording(stores, &new_tenant(tenant.id.clone()), vec![stray.clone()]).await;
    assert_eq!(
        again,
        (Written::Conflict, false),
        "an id is created once; a refused creation records no event"
    );
    assert_eq!(
        stores
            .tenants
            .find_api_key(&stray.hash)
            .await
            .expect("read"),
        None,
        "a refused creation writes none of its keys"
    );

    let deleted = Tenant {
        status: TenantStatus::Deleted,
        purge_at: Some(now().plus_secs(3600)),
        ..tenant.next_revision(now())
    };
    assert!(stores
        .registry
        .delete_tenant(
            &deleted,
            &admin_event(&deleted.id, EventKind::TenantDeleted)
        )
        .await
        .expect("written"));
    assert_eq!(
        stores
            .tenants
            .get_tenant(&tenant.id)
            .await
            .expect("read")
            .map(|t| t.status),
        Some(TenantStatus::Deleted),
        "a deleted tenant is kept, marked, until it is purged"
    );
    let reused = create(stores, &new_tenant(tenant.id.clone()), vec![]).await;
    assert_eq!(
        reused,
        Written::Conflict,
        "a deleted tenant's id is never reused"
    );
    assert!(
        !stores
            .registry
            .update_tenant(
                &deleted.next_revision(now()),
                &admin_event(&tenant.id, EventKind::TenantUpdated)
            )
            .await
            .expect("answered"),
        "a deleted tenant cannot be changed"
    );
}

pub async fn a_retried_creation_finds_its_idempotency_record(stores: &Stores) {
    let tenant = new_tenant(tenant());
    let record = idempotency(IdempotencyScope::Operator, vec![tenant.id.to_string()]);
    let creation = TenantCreation {
        tenant: tenant.clone(),
        keys: vec![],
        idempotency: Some(record.clone()),
        event: admin_event(&tenant.id, EventKind::TenantCreated),
        owner: None,
    };
    let registry = &stores.registry;
    assert_eq!(
        registry.create_tenant(&creation).await.expect("answered"),
        Written::Done
    );
    let found = registry
        .find_idempotency(&IdempotencyScope::Operator, &record.key_digest, now())
        .await
        .expect("read");
    assert_eq!(found.as_ref(), Some(&record));
    let other = TenantCreation {
        tenant: new_tenant(crate::conformance::tenant()),
        ..creation.clone()
    };
    assert_eq!(
        registry.create_tenant(&other).await.expect("answered"),
        Written::IdempotencyKeyTaken,
        "a recorded idempotency key creates nothing more"
    );
    assert_eq!(
        stores
            .tenants
            .get_tenant(&other.tenant.id)
            .await
            .expect("read"),
        None
    );
    let scoped = IdempotencyScope::Tenant(tenant.id.clone());
    assert_eq!(
        registry
            .find_idempotency(&scoped, &record.key_digest, now())
            .await
            .expect("read"),
        None,
        "idempotency keys are per scope"
    );
    let later = record.expires_at.plus_secs(1);
    assert_eq!(
        registry
            .find_idempotency(&IdempotencyScope::Operator, &record.key_digest, later)
            .await
            .expect("read"),
        None,
        "an expired record is forgotten"
    );

    let (_, key, _) = key_entry(&tenant.id, KeyKind::Secret, now());
    let key_record = idempotency(scoped.clone(), vec![key.id.to_string()]);
    let creation = KeyCreation {
        key: key.clone(),
        replacing: None,
        idempotency: Some(key_record.clone()),
        event: admin_event(&tenant.id, EventKind::ApiKeyCreated),
    };
    assert_eq!(
        registry.create_api_key(&creation).await.expect("answered"),
        Written::Done
    );
    let (_, second, _) = key_entry(&tenant.id, KeyKind::Secret, now());
    let retry = KeyCreation {
        key: second.clone(),
        ..creation
    };
    assert_eq!(
        registry.create_api_key(&retry).await.expect("answered"),
        Written::IdempotencyKeyTaken
    );
    assert_eq!(
        stores
            .tenants
            .find_api_key(&second.hash)
            .await
            .expect("read"),
        None,
        "a retried key creation makes no second key"
    );
}

pub async fn tenants_are_listed_by_id_page_by_page(stores: &Stores) {
    let base = tenant();
    let ids: Vec<TenantId> = ["a", "b", "c"]
        .iter()
        .map(|suffix| TenantId::parse(&format!("{base}-{suffix}")).expect("valid"))
        .collect();
    for id in &ids {
        assert_eq!(
            create(stores, &new_tenant(id.clone()), vec![]).await,
            Written::Done
        );
    }
    let page = stores
        .registry
        .list_tenants(Some(&ids[0]), 1)
        .await
        .expect("listed");
    assert_eq!(
        page.items.iter().map(|t| &t.id).collect::<Vec<_>>(),
        vec![&ids[1]],
        "the page after a tenant starts with the next id"
    );
    assert!(page.has_more, "more follow");
    let page = stores
        .registry
        .list_tenants(Some(&ids[1]), 2)
        .await
        .expect("listed");
    assert_eq!(page.items.first().map(|t| &t.id), Some(&ids[2]));
    let suspended = Tenant {
        status: TenantStatus::Suspended,
        ..stores
            .tenants
            .get_tenant(&ids[2])
            .await
            .expect("read")
            .expect("present")
            .next_revision(now())
    };
    assert!(stores
        .registry
        .update_tenant(
            &suspended,
            &admin_event(&suspended.id, EventKind::TenantUpdated)
        )
        .await
        .expect("written"));
    let page = stores
        .registry
        .list_tenants(Some(&ids[1]), 1)
        .await
        .expect("listed");
    assert_eq!(
        page.items.first(),
        Some(&suspended),
        "listings show a tenant as it is now"
    );
    let deleted = Tenant {
        status: TenantStatus::Deleted,
        purge_at: Some(now().plus_secs(60)),
        ..suspended.next_revision(now())
    };
    assert!(stores
        .registry
        .delete_tenant(
            &deleted,
            &admin_event(&deleted.id, EventKind::TenantDeleted)
        )
        .await
        .expect("written"));
    let page = stores
        .registry
        .list_tenants(Some(&ids[1]), 1)
        .await
        .expect("listed");
    assert_ne!(
        page.items.first().map(|t| &t.id),
        Some(&ids[2]),
        "deleted tenants are not listed"
    );
}

pub async fn tenant_changes_apply_only_over_the_revision_read(stores: &Stores) {
    let tenant = new_tenant(tenant());
    assert_eq!(create(stores, &tenant, vec![]).await, Written::Done);
    let first = Tenant {
        name: "First".into(),
        ..tenant.next_revision(now())
    };
    let second = Tenant {
        name: "Second".into(),
        ..tenant.next_revision(now())
    };
    let (applied, lost) = (
        admin_event(&tenant.id, EventKind::TenantUpdated),
        admin_event(&tenant.id, EventKind::TenantUpdated),
    );
    assert!(stores
        .registry
        .update_tenant(&first, &applied)
        .await
        .expect("answered"));
    assert!(
        !stores
            .registry
            .update_tenant(&second, &lost)
            .await
            .expect("answered"),
        "a change over a revision that is gone is refused (lost update)"
    );
    assert!(
        recorded(stores, &applied).await && !recorded(stores, &lost).await,
        "a change records its event with it; a refused one, none"
    );
    let stored = stores
        .tenants
        .get_tenant(&tenant.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(stored, first);
    let unknown = new_tenant(crate::conformance::tenant()).next_revision(now());
    assert!(!stores
        .registry
        .update_tenant(&unknown, &admin_event(&tenant.id, EventKind::TenantUpdated))
        .await
        .expect("answered"));
}

pub async fn keys_are_listed_newest_first_rotated_and_revoked(stores: &Stores) {
    let tenant = new_tenant(tenant());
    let at = now();
    let (_, oldest, _) = key_entry(&tenant.id, KeyKind::Secret, at.plus_secs(-20));
    let (_, middle, _) = key_entry(&tenant.id, KeyKind::Publishable, at.plus_secs(-10));
    assert_eq!(
        create(stores, &tenant, vec![oldest.clone(), middle.clone()]).await,
        Written::Done
    );
    let (_, newest, _) = key_entry(&tenant.id, KeyKind::Secret, at);
    let overlap_end = at.plus_secs(3600);
    let rotation = KeyCreation {
        key: newest.clone(),
        replacing: Some((oldest.id.clone(), overlap_end)),
        idempotency: None,
        event: admin_event(&tenant.id, EventKind::ApiKeyRotated),
    };
    let registry = &stores.registry;
    assert_eq!(
        registry.create_api_key(&rotation).await.expect("answered"),
        Written::Done
    );
    let rotated = stores
        .tenants
        .find_api_key(&oldest.hash)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        rotated.expires_at,
        Some(overlap_end),
        "the replaced key expires when the overlap ends"
    );
    let page = registry
        .list_api_keys(&tenant.id, None, 2)
        .await
        .expect("listed");
    assert_eq!(
        page.items.iter().map(|k| &k.id).collect::<Vec<_>>(),
        vec![&newest.id, &middle.id],
        "newest first"
    );
    assert!(page.has_more);
    let page = registry
        .list_api_keys(&tenant.id, Some(&middle.id), 2)
        .await
        .expect("listed");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].expires_at, Some(overlap_end));
    assert!(!page.has_more);
    let other_tenant = crate::conformance::tenant();
    assert!(
        registry
            .list_api_keys(&other_tenant, None, 10)
            .await
            .expect("listed")
            .items
            .is_empty(),
        "another tenant lists none of them"
    );
    assert_eq!(
        registry
            .get_api_key(&other_tenant, &newest.id)
            .await
            .expect("read"),
        None,
        "another tenant does not find them by id"
    );

    assert!(registry
        .revoke_api_key(
            &tenant.id,
            &middle.id,
            at,
            &admin_event(&tenant.id, EventKind::ApiKeyRevoked)
        )
        .await
        .expect("answered"));
    assert!(
        !registry
            .revoke_api_key(
                &tenant.id,
                &middle.id,
                at,
                &admin_event(&tenant.id, EventKind::ApiKeyRevoked)
            )
            .await
            .expect("answered"),
        "a key is revoked once"
    );
    assert!(
        !registry
            .revoke_api_key(
                &other_tenant,
                &newest.id,
                at,
                &admin_event(&other_tenant, EventKind::ApiKeyRevoked)
            )
            .await
            .expect("answered"),
        "another tenant cannot revoke it"
    );
    let revoked = stores
        .tenants
        .find_api_key(&middle.hash)
        .await
        .expect("read")
        .expect("present");
    assert!(
        revoked.revoked,
        "revocation reaches the record requests are judged by"
    );
    let listed = registry
        .get_api_key(&tenant.id, &middle.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(listed.revoked_at, Some(at));

    let (_, replacement, _) = key_entry(&tenant.id, KeyKind::Publishable, at);
    let rotating_revoked = KeyCreation {
        key: replacement.clone(),
        replacing: Some((middle.id.clone(), overlap_end)),
        idempotency: None,
        event: admin_event(&tenant.id, EventKind::ApiKeyRotated),
    };
    assert_eq!(
        registry
            .create_api_key(&rotating_revoked)
            .await
            .expect("answered"),
        Written::Conflict,
        "a revoked key cannot be rotated"
    );
    assert!(
        !recorded(stores, &rotating_revoked.event).await,
        "a refused rotation records no event"
    );
    assert_eq!(
        stores
            .tenants
            .find_api_key(&replacement.hash)
            .await
            .expect("read"),
        None
    );
}

pub async fn a_key_use_is_noted_at_most_once_a_minute(stores: &Stores) {
    let tenant = new_tenant(tenant());
    let (_, key, _) = key_entry(&tenant.id, KeyKind::Publishable, now());
    assert_eq!(
        create(stores, &tenant, vec![key.clone()]).await,
        Written::Done
    );
    let last_used = || async {
        stores
            .registry
            .get_api_key(&tenant.id, &key.id)
            .await
            .expect("read")
            .expect("present")
            .last_used_at
    };
    assert_eq!(last_used().await, None);
    let first = now();
    let registry = &stores.registry;
    registry
        .record_key_use(&tenant.id, &key.id, first)
        .await
        .expect("noted");
    assert_eq!(last_used().await, Some(first));
    registry
        .record_key_use(&tenant.id, &key.id, first.plus_secs(59))
        .await
        .expect("answered");
    assert_eq!(last_used().await, Some(first), "not again within a minute");
    registry
        .record_key_use(&tenant.id, &key.id, first.plus_secs(60))
        .await
        .expect("noted");
    assert_eq!(last_used().await, Some(first.plus_secs(60)));
    let listed = registry
        .list_api_keys(&tenant.id, None, 10)
        .await
        .expect("listed");
    assert_eq!(listed.items[0].last_used_at, Some(first.plus_secs(60)));
}

pub async fn a_deleted_tenants_records_read_as_absent_once_purged(stores: &Stores) {
    let tenant = new_tenant(tenant());
    let (_, key, _) = key_entry(&tenant.id, KeyKind::Secret, now());
    assert_eq!(
        create(stores, &tenant, vec![key.clone()]).await,
        Written::Done
    );
    let purged = now().plus_secs(-1);
    let deleted = Tenant {
        status: TenantStatus::Deleted,
        purge_at: Some(purged),
        ..tenant.next_revision(now())
    };
    assert!(stores
        .registry
        .delete_tenant(
            &deleted,
            &admin_event(&deleted.id, EventKind::TenantDeleted)
        )
        .await
        .expect("written"));
    stores
        .registry
        .purge_api_keys_at(&tenant.id, purged)
        .await
        .expect("scheduled");
    assert_eq!(
        stores.tenants.get_tenant(&tenant.id).await.expect("read"),
        None
    );
    assert_eq!(
        stores.tenants.find_api_key(&key.hash).await.expect("read"),
        None
    );
    assert_eq!(
        stores
            .registry
            .get_api_key(&tenant.id, &key.id)
            .await
            .expect("read"),
        None
    );
    assert!(stores
        .registry
        .list_api_keys(&tenant.id, None, 10)
        .await
        .expect("listed")
        .items
        .is_empty());
    assert_eq!(
        create(stores, &new_tenant(tenant.id.clone()), vec![]).await,
        Written::Conflict,
        "the tombstone outlives the purge"
    );
}
