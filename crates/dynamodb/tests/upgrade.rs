//! Upgrading a store the previous release wrote: its items, written here attribute by
//! attribute as that release's adapter wrote them (git show fdb1ed6:crates/dynamodb/src),
//! are migrated (`authkit_dynamodb::migrate`) and then used by this release — the tenant
//! and its API key, a pending code, a refresh token, a trusted device, and a user whose
//! address has capitals, found again when typed in lower case (decision 31).

mod emulator;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authkit_domain::challenge::{Challenge, ChallengeId};
use authkit_domain::delivery::{
    DeliveryError, DeliveryReceipt, MessageContent, OutgoingMessage, Sender,
};
use authkit_domain::device::{Device, DeviceId, Fingerprint};
use authkit_domain::secret::Pepper;
use authkit_domain::service::{Caller, RequestedKind, ServiceSettings, StartRequest, StaticKeys};
use authkit_domain::tenant::{ApiKey, KeyKind, TenantId};
use authkit_domain::token::{FamilyId, KeyMaterial, RefreshToken};
use authkit_domain::user::UserId;
use authkit_domain::{AuthKit, Clock, OsRandomness, SystemClock};
use authkit_dynamodb::{
    create_tables, dynamodb_stores, migrate, migrate_at_pace, MigrationPace, TableNames,
    CURRENT_VERSION,
};
use aws_sdk_dynamodb::types::AttributeValue;
use emulator::client;

/// Keeps the last code "sent", as the person's inbox would.
#[derive(Default)]
struct Inbox(Mutex<Option<String>>);

#[async_trait]
impl Sender for Inbox {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let MessageContent::Code(code) = &message.content else {
            return Err(DeliveryError::Unavailable(
                "this test sends codes only".into(),
            ));
        };
        *self.0.lock().unwrap() = Some(code.expose().to_owned());
        Ok(DeliveryReceipt {
            provider_message_id: "inbox".into(),
        })
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn laptop() -> Fingerprint {
    Fingerprint {
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into()),
        platform: Some("Linux x86_64".into()),
        screen: Some("2560x1440".into()),
        timezone: Some("Europe/Berlin".into()),
        languages: vec!["de-DE".into()],
        color_depth: Some(24),
        hardware_concurrency: Some(16),
    }
}

/// What the previous release left in the tables, and the secrets its users still hold.
struct PreviousRelease {
    publishable_key: ApiKey,
    user: UserId,
    challenge: ChallengeId,
    code: &'static str,
    refresh_token: RefreshToken,
    device_credential: String,
}

async fn write_previous_release(
    client: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    keys: &KeyMaterial,
    tenant: &str,
) -> PreviousRelease {
    let random = OsRandomness;
    let pepper = &keys.pepper;
    let now = SystemClock.now().0;
    let put = |table: &str, item: HashMap<String, AttributeValue>| {
        let request = client.put_item().table_name(table).set_item(Some(item));
        async move {
            request
                .send()
                .await
                .expect("an item of the previous release")
        }
    };

    // The tenant, its policy with the separate resend limits that release had.
    let document = serde_json::json!({
        "id": tenant, "name": "Upgraded", "allowed_redirect_uris": ["https://app.example.com/cb"],
        "created_at": now - 86_400,
        "policy": {
            "code_length": 6, "challenge_ttl_secs": 600, "max_attempts": 5,
            "resend_cooldown_secs": 30, "max_resends": 3, "identifier_failure_cap": 100,
            "default_region": null, "access_token_ttl_secs": 900,
            "refresh_token_ttl_secs": 2_592_000,
            "rate_limits": {
                "start": [{"scope": "ip", "max": 30, "window_secs": 600}],
                "resend": [{"scope": "ip", "max": 30, "window_secs": 600}],
                "verify": [{"scope": "ip", "max": 120, "window_secs": 600}]
            }
        }
    });
    put(
        &tables.directory,
        HashMap::from([
            ("pk".into(), s(format!("tenant#{tenant}"))),
            ("sk".into(), s("tenant")),
            ("document".into(), s(document.to_string())),
        ]),
    )
    .await;
    let publishable_key = ApiKey::generate(KeyKind::Publishable, &random);
    put(
        &tables.directory,
        HashMap::from([
            (
                "pk".into(),
                s(format!("apikey#{}", publishable_key.hash(pepper).to_hex())),
            ),
            ("sk".into(), s("apikey")),
            ("tenant".into(), s(tenant)),
            ("kind".into(), s("publishable")),
            ("created_at".into(), n(now - 86_400)),
            ("revoked".into(), AttributeValue::Bool(false)),
        ]),
    )
    .await;

    // A user who first signed in as `Dave@example.com`: keyed as typed.
    let user = UserId::generate(&random);
    let user_fields = |pk: String| {
        HashMap::from([
            ("pk".into(), s(pk)),
            ("sk".into(), s("user")),
            ("tenant".into(), s(tenant)),
            ("user_id".into(), s(user.as_str())),
            ("identifier".into(), s("Dave@example.com")),
            ("created_at".into(), n(now - 3_600)),
        ])
    };
    put(
        &tables.directory,
        user_fields(format!("{tenant}#identifier#Dave@example.com")),
    )
    .await;
    put(
        &tables.directory,
        user_fields(format!("{tenant}#user#{user}")),
    )
    .await;

    // A pending code challenge for him.
    let challenge = ChallengeId::generate(&random);
    let code = "482913";
    put(
        &tables.challenges,
        HashMap::from([
            ("pk".into(), s(format!("{tenant}#{challenge}"))),
            ("sk".into(), s("challenge")),
            ("tenant".into(), s(tenant)),
            ("id".into(), s(challenge.as_str())),
            ("identifier".into(), s("Dave@example.com")),
            ("channel".into(), s("email")),
            ("kind".into(), s("code")),
            ("code_length".into(), n(6)),
            (
                "secret_hash".into(),
                s(pepper
                    .hash(&Challenge::secret_context(&challenge), code.as_bytes())
                    .to_hex()),
            ),
            ("state".into(), s("pending")),
            ("attempts".into(), n(0)),
            ("max_attempts".into(), n(5)),
            ("resends".into(), n(0)),
            ("max_resends".into(), n(3)),
            ("created_at".into(), n(now - 60)),
            ("expires_at".into(), n(now + 540)),
            ("resend_after".into(), n(now - 30)),
            ("ttl".into(), n(now + 540 + 86_400)),
        ]),
    )
    .await;

    // A trusted device and the session it opened.
    let device = DeviceId::generate(&random);
    let device_secret = authkit_domain::secret::OpaqueSecret::generate(&random);
    put(
        &tables.devices,
        HashMap::from([
            ("pk".into(), s(format!("{tenant}#user#{user}"))),
            ("sk".into(), s(format!("device#{device}"))),
            ("device_id".into(), s(device.as_str())),
            ("tenant".into(), s(tenant)),
            ("user_id".into(), s(user.as_str())),
            (
                "secret_hash".into(),
                s(pepper
                    .hash(
                        &Device::secret_context(&device),
                        device_secret.expose().as_bytes(),
                    )
                    .to_hex()),
            ),
            (
                "fingerprint".into(),
                s(serde_json::to_string(&laptop()).unwrap()),
            ),
            ("trust".into(), s("trusted")),
            ("created_at".into(), n(now - 3_000)),
            ("last_seen".into(), n(now - 3_000)),
        ]),
    )
    .await;
    let refresh_token = RefreshToken::generate(FamilyId::generate(&random), &random);
    put(
        &tables.directory,
        previous_family(tenant, &user, &refresh_token, pepper, now),
    )
    .await;

    PreviousRelease {
        publishable_key,
        user: user.clone(),
        challenge,
        code,
        refresh_token,
        device_credential: format!("{user}.{device}.{}", device_secret.expose()),
    }
}

/// A refresh family as releases before the users API wrote it: no link in the user's
/// partition.
fn previous_family(
    tenant: &str,
    user: &UserId,
    refresh_token: &RefreshToken,
    pepper: &Pepper,
    now: i64,
) -> HashMap<String, AttributeValue> {
    let family = &refresh_token.family;
    HashMap::from([
        ("pk".into(), s(format!("{tenant}#family#{family}"))),
        ("sk".into(), s("family")),
        ("family_id".into(), s(family.as_str())),
        ("tenant".into(), s(tenant)),
        ("user_id".into(), s(user.as_str())),
        ("amr".into(), s(r#"["otp","email"]"#)),
        (
            "current_hash".into(),
            s(refresh_token.hash(pepper).to_hex()),
        ),
        ("generation".into(), n(0)),
        ("created_at".into(), n(now - 3_000)),
        ("expires_at".into(), n(now + 2_000_000)),
        ("ttl".into(), n(now + 2_000_000)),
    ])
}

#[tokio::test]
async fn a_store_written_by_the_previous_release_upgrades_and_keeps_working() {
    let Some(client) = client().await else { return };
    let tables = TableNames::with_prefix(&format!("upgrade{}-", std::process::id()));
    create_tables(&client, &tables)
        .await
        .expect("tables created");
    let keys = Arc::new(KeyMaterial::generate(&OsRandomness));
    let before = write_previous_release(&client, &tables, &keys, "upgraded").await;

    let report = migrate(client.clone(), tables.clone())
        .await
        .expect("migrated");
    assert_eq!(
        (report.from_version, report.to_version),
        (1, CURRENT_VERSION)
    );
    assert_eq!(
        (report.written, report.conflicts, report.finished),
        (2, 0, true),
        "one identifier re-keyed, one session linked: {report:?}"
    );
    let again = migrate(client.clone(), tables.clone())
        .await
        .expect("migrated again");
    assert_eq!(
        (again.from_version, again.written, again.conflicts),
        (CURRENT_VERSION, 0, 0),
        "a second run changes nothing: {again:?}"
    );

    let stores = dynamodb_stores(client, tables);
    let sessions = stores
        .sessions
        .list(
            &TenantId::parse("upgraded").unwrap(),
            &before.user,
            SystemClock.now(),
        )
        .await
        .expect("listed");
    assert_eq!(
        sessions.iter().map(|s| &s.id).collect::<Vec<_>>(),
        [&before.refresh_token.family],
        "the previous release's session is now the user's, listed (and so revoked and erased)"
    );
    let inbox = Arc::new(Inbox::default());
    let authkit = AuthKit::new(
        stores,
        inbox.clone(),
        Arc::new(StaticKeys(keys)),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceSettings::new("https://auth.example.com", "https://auth.example.com"),
    );
    let (tenant, record) = authkit
        .authenticate_api_key(&before.publishable_key.reveal())
        .await
        .expect("the previous release's key still works");
    assert_eq!(
        (tenant.id.clone(), record.kind),
        (TenantId::parse("upgraded").unwrap(), KeyKind::Publishable)
    );
    let caller = Caller {
        tenant: &tenant,
        ip: Some("198.51.100.7"),
    };

    let signed_in = authkit
        .sign_in_with_answer(caller, before.challenge.as_str(), before.code)
        .await
        .expect("a code the previous release sent still signs in");
    assert_eq!(
        signed_in.user_id, before.user,
        "the same user, not a new one"
    );
    assert!(!signed_in.is_new_user);

    // He types his address in lower case now: still the same user.
    let started = authkit
        .start_sign_in(
            caller,
            StartRequest {
                identifier: "dave@example.com",
                channel: None,
                kind: RequestedKind::Code,
                redirect_uri: None,
                code_challenge: None,
                response_mode: Default::default(),
            },
        )
        .await
        .expect("started");
    let code = inbox.0.lock().unwrap().clone().expect("a code was sent");
    let again = authkit
        .sign_in_with_answer(caller, started.id.as_str(), &code)
        .await
        .expect("signed in");
    assert_eq!(again.user_id, before.user, "found by the case-folded key");

    authkit
        .refresh(caller, &before.refresh_token.reveal())
        .await
        .expect("a refresh token the previous release issued still rotates");

    let by_device = authkit
        .sign_in_with_device(caller, &before.device_credential, &laptop())
        .await
        .expect("a device the previous release bound still signs in");
    assert_eq!(by_device.user_id, before.user);
}

#[tokio::test]
async fn linking_sessions_goes_on_from_where_a_stopped_run_left_off() {
    let Some(client) = client().await else { return };
    let tables = TableNames::with_prefix(&format!("links{}-", std::process::id()));
    create_tables(&client, &tables)
        .await
        .expect("tables created");
    let random = OsRandomness;
    let pepper = Pepper::generate(&random);
    let now = SystemClock.now().0;
    let users: Vec<UserId> = (0..3).map(|_| UserId::generate(&random)).collect();
    for user in &users {
        let token = RefreshToken::generate(FamilyId::generate(&random), &random);
        client
            .put_item()
            .table_name(&tables.directory)
            .set_item(Some(previous_family("links", user, &token, &pepper, now)))
            .send()
            .await
            .expect("a family of the previous release");
    }
    let one_page = MigrationPace {
        page_size: 1,
        max_pages: Some(1),
    };
    let stopped = migrate_at_pace(client.clone(), tables.clone(), one_page)
        .await
        .expect("a run that stops");
    assert_eq!(
        (stopped.finished, stopped.to_version, stopped.written),
        (false, 1, 1),
        "one page read, one session linked, the version not yet moved: {stopped:?}"
    );
    let rest = migrate(client.clone(), tables.clone())
        .await
        .expect("the rest");
    assert_eq!(
        (rest.finished, rest.to_version, rest.written),
        (true, CURRENT_VERSION, 2),
        "the next run links the other two: {rest:?}"
    );
    let stores = dynamodb_stores(client.clone(), tables.clone());
    let tenant = TenantId::parse("links").unwrap();
    for user in &users {
        let listed = stores
            .sessions
            .list(&tenant, user, SystemClock.now())
            .await
            .expect("listed");
        assert_eq!(listed.len(), 1, "every user's session is linked");
    }
    let position = client
        .get_item()
        .table_name(&tables.directory)
        .key("pk", s("meta#migration"))
        .key("sk", s("session_links"))
        .consistent_read(true)
        .send()
        .await
        .expect("read");
    assert!(
        position.item().is_none(),
        "a finished step forgets its position"
    );
}
