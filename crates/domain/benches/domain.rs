//! `cargo bench -p authkit-domain`: the domain's hot paths, without I/O. Prints one line
//! per case with the mean time per operation; figures are recorded in
//! docs/performance.md. Plain `Instant` loops keep the dependency tree (and CI) small.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use authkit_domain::device::Fingerprint;
use authkit_domain::identifier::{Identifier, Region};
use authkit_domain::memory::MemoryStore;
use authkit_domain::secret::{CodeLength, OtpCode, Pepper};
use authkit_domain::service::{
    Caller, NewTenant, RequestedKind, ServiceSettings, StartRequest, StaticKeys,
};
use authkit_domain::tenant::{TenantId, TenantPolicy};
use authkit_domain::token::{self, AccessClaims, FamilyId, KeyMaterial};
use authkit_domain::user::UserId;
use authkit_domain::{AuthKit, OsRandomness, SystemClock};

#[path = "support/measure.rs"]
mod measure;

use measure::measure;

fn main() {
    let budget = Duration::from_millis(700);
    let random = OsRandomness;
    let pepper = Pepper::generate(&random);
    let us = Region::parse("US").ok();

    measure("otp code generation (6 digits)", budget, || {
        black_box(OtpCode::generate(&random, CodeLength::DEFAULT));
    });
    measure("secret hash (HMAC-SHA256 with pepper)", budget, || {
        black_box(pepper.hash("challenge:ch_0123", b"123456"));
    });
    measure("identifier parse: email (IDNA)", budget, || {
        black_box(Identifier::parse(black_box(" Jane.Doe@Bücher.example "), None).ok());
    });
    measure("identifier parse: phone (national, US)", budget, || {
        black_box(Identifier::parse(black_box("(415) 555-2671"), us).ok());
    });
    let a = Fingerprint {
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0.0.0 Safari/537.36"
                .into(),
        ),
        platform: Some("Linux x86_64".into()),
        screen: Some("2560x1440".into()),
        timezone: Some("Europe/Berlin".into()),
        languages: vec!["de-DE".into(), "en".into()],
        color_depth: Some(24),
        hardware_concurrency: Some(16),
    };
    let b = Fingerprint {
        languages: vec!["de-DE".into()],
        ..a.clone()
    };
    measure("fingerprint similarity", budget, || {
        black_box(a.similarity(black_box(&b)));
    });

    let material = KeyMaterial::generate(&random);
    let tenant = TenantId::parse("bench").expect("valid tenant id");
    let claims = AccessClaims {
        iss: "https://auth.example.com".into(),
        sub: UserId::generate(&random),
        aud: tenant.clone(),
        iat: 0,
        nbf: 0,
        exp: i64::MAX / 4,
        jti: "bench".into(),
        auth_time: 0,
        amr: vec!["otp".into(), "sms".into()],
        client_id: tenant.clone(),
        sid: FamilyId::generate(&random),
        device_id: None,
    };
    measure("access token sign (ES256)", budget, || {
        black_box(token::sign_access_token(&material.signing, &claims));
    });
    let signed = token::sign_access_token(&material.signing, &claims);
    measure("access token verify (ES256)", budget, || {
        let now = authkit_domain::Timestamp(1);
        black_box(
            token::verify_access_token(
                &material.signing,
                &signed,
                "https://auth.example.com",
                &tenant,
                now,
            )
            .ok(),
        );
    });

    sign_in_round_trip(budget);
}

/// Start + verify + tokens through the whole service over the embedded store, with a
/// sender that only keeps the last code.
fn sign_in_round_trip(budget: Duration) {
    use authkit_domain::delivery::{
        DeliveryError, DeliveryReceipt, MessageContent, OutgoingMessage, Sender,
    };
    use std::sync::Mutex;

    #[derive(Default)]
    struct LastCode(Mutex<String>);

    #[async_trait::async_trait]
    impl Sender for LastCode {
        async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
            if let MessageContent::Code(code) = &message.content {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = code.expose().to_owned();
            }
            Ok(DeliveryReceipt {
                provider_message_id: String::new(),
            })
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let sender = Arc::new(LastCode::default());
    let authkit = AuthKit::new(
        MemoryStore::new().into_stores(),
        sender.clone(),
        Arc::new(StaticKeys(Arc::new(KeyMaterial::generate(&OsRandomness)))),
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        ServiceSettings::new("https://auth.example.com", "https://auth.example.com"),
    );
    let mut policy = TenantPolicy::default();
    // The benchmark signs one identifier in over and over; lift the limits it would trip.
    for limit in policy
        .rate_limits
        .start
        .iter_mut()
        .chain(&mut policy.rate_limits.verify)
    {
        limit.max = u32::MAX;
    }
    let tenant = runtime
        .block_on(authkit.create_tenant(NewTenant {
            id: TenantId::parse("bench").expect("valid tenant id"),
            name: "Bench".into(),
            allowed_redirect_uris: vec![],
            policy,
        }))
        .expect("tenant created")
        .tenant;
    let caller = Caller {
        tenant: &tenant,
        ip: Some("127.0.0.1"),
    };
    let mut n = 0u64;
    measure(
        "sign-in: start + verify + tokens (embedded)",
        budget,
        || {
            n += 1;
            let identifier = format!("user{}@example.com", n % 1000);
            runtime.block_on(async {
                let request = StartRequest {
                    identifier: &identifier,
                    channel: None,
                    kind: RequestedKind::Code,
                    redirect_uri: None,
                    code_challenge: None,
                    response_mode: Default::default(),
                };
                let started = authkit
                    .start_sign_in(caller, request)
                    .await
                    .expect("started");
                let code = sender.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
                black_box(
                    authkit
                        .sign_in_with_answer(caller, started.id.as_str(), &code)
                        .await
                        .expect("signed in"),
                );
            });
        },
    );
}
