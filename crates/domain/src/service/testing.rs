//! A service wired to the embedded store, a recording sender and a hand-moved clock.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    AuthKit, BoundDevice, Caller, NewTenant, RequestedKind, ServiceSettings, SignedIn,
    StartRequest, StaticKeys,
};
use crate::audit::AuditConsumer;
use crate::clock::{ManualClock, OsRandomness};
use crate::delivery::{DeliveryError, DeliveryReceipt, MessageContent, OutgoingMessage, Sender};
use crate::device::Fingerprint;
use crate::event::{drain, Event, EventPipeline};
use crate::identifier::Channel;
use crate::memory::MemoryStore;
use crate::secret::Pepper;
use crate::store::Stores;
use crate::tenant::{ApiKey, Tenant, TenantId, TenantPolicy};
use crate::token::{AccessClaims, KeyMaterial};

/// Records what would have been sent; can be told to fail. Like the AWS sender, it does
/// not reach WhatsApp.
#[derive(Default)]
pub struct RecordingSender {
    pub sent: Mutex<Vec<OutgoingMessage>>,
    pub fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Sender for RecordingSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DeliveryError::Unavailable("provider down".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(message.clone());
        Ok(DeliveryReceipt {
            provider_message_id: format!("m{}", sent.len()),
        })
    }

    fn reaches(&self, channel: Channel) -> bool {
        channel != Channel::Whatsapp
    }
}

impl RecordingSender {
    /// The secret of the last message: the code, or the token from the magic link.
    pub fn last_secret(&self) -> String {
        let sent = self.sent.lock().unwrap();
        match &sent.last().expect("a message was sent").content {
            MessageContent::Code(code) => code.expose().to_owned(),
            MessageContent::MagicLink(link) => link
                .rsplit_once("token=")
                .expect("link has a token")
                .1
                .to_owned(),
            MessageContent::Invitation(_) => panic!("the last message was an invitation"),
        }
    }

    pub fn last_link(&self) -> String {
        let sent = self.sent.lock().unwrap();
        match &sent.last().expect("a message was sent").content {
            MessageContent::MagicLink(link) => link.to_string(),
            _ => panic!("the last message was not a magic link"),
        }
    }

    /// The last message, whatever it carries.
    pub fn last(&self) -> OutgoingMessage {
        self.sent
            .lock()
            .unwrap()
            .last()
            .expect("a message was sent")
            .clone()
    }

    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

pub struct Harness {
    pub authkit: AuthKit,
    pub stores: Stores,
    pub memory: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub sender: Arc<RecordingSender>,
    pub tenant: Tenant,
    pub publishable_key: ApiKey,
    keys: Arc<KeyMaterial>,
}

pub const REDIRECT: &str = "https://app.example.com/callback";

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_policy(TenantPolicy::default()).await
    }

    pub async fn with_policy(policy: TenantPolicy) -> Harness {
        Harness::build(policy, Default::default()).await
    }

    /// A harness whose deployment-wide origins (for tenants without a list) are these.
    pub async fn with_default_origins(origins: crate::tenant::DeploymentOrigins) -> Harness {
        Harness::build(TenantPolicy::default(), origins).await
    }

    async fn build(policy: TenantPolicy, origins: crate::tenant::DeploymentOrigins) -> Harness {
        let clock = Arc::new(ManualClock::at(1_700_000_000));
        let memory = Arc::new(MemoryStore::with_clock(clock.clone()));
        let stores = memory.clone().stores();
        let sender = Arc::new(RecordingSender::default());
        let keys = Arc::new(KeyMaterial::generate(&OsRandomness));
        let authkit = AuthKit::new(
            stores.clone(),
            sender.clone(),
            Arc::new(StaticKeys(keys.clone())),
            clock.clone(),
            Arc::new(OsRandomness),
            ServiceSettings {
                default_allowed_origins: origins,
                ..ServiceSettings::new("https://auth.example.com", "https://auth.example.com")
            },
        );
        let created = authkit
            .create_tenant(NewTenant {
                id: TenantId::parse("acme").unwrap(),
                name: "Acme".into(),
                allowed_redirect_uris: vec![REDIRECT.into()],
                policy,
            })
            .await
            .unwrap();
        // The tenant's creation is the setting, not what tests look at: its event is
        // delivered to no consumer, so the audit log starts empty.
        drain(memory.as_ref(), &EventPipeline::new(Vec::new()), 100)
            .await
            .unwrap();
        Harness {
            authkit,
            stores,
            memory,
            clock,
            sender,
            tenant: created.tenant,
            publishable_key: created.publishable_key,
            keys,
        }
    }

    pub fn pepper(&self) -> Pepper {
        self.keys.pepper.clone()
    }

    /// Another service over `stores` (this one's, some replaced), sharing this harness's
    /// keys, clock, sender and tenant.
    pub fn service_over(&self, stores: Stores) -> AuthKit {
        AuthKit::new(
            stores,
            self.sender.clone(),
            Arc::new(StaticKeys(self.keys.clone())),
            self.clock.clone(),
            Arc::new(OsRandomness),
            ServiceSettings::new("https://auth.example.com", "https://auth.example.com"),
        )
    }

    /// This harness's service with sign-up in `mode` (the harness's own is `off`).
    pub fn service_with_signup(&self, mode: super::SignupMode) -> AuthKit {
        AuthKit::new(
            self.stores.clone(),
            self.sender.clone(),
            Arc::new(StaticKeys(self.keys.clone())),
            self.clock.clone(),
            Arc::new(OsRandomness),
            ServiceSettings {
                signup: mode,
                ..ServiceSettings::new("https://auth.example.com", "https://auth.example.com")
            },
        )
    }

    pub fn clock_now(&self) -> crate::clock::Timestamp {
        crate::clock::Clock::now(self.clock.as_ref())
    }

    /// The tenant's newest audit entries, newest first, after the events recorded so far
    /// went through the pipeline (as the local server's drain task does).
    pub async fn recent_audit(&self, limit: usize) -> Vec<Event> {
        self.audit_of(&self.tenant.id, limit).await
    }

    /// Any tenant's newest audit entries, like [`Harness::recent_audit`].
    pub async fn audit_of(&self, tenant: &TenantId, limit: usize) -> Vec<Event> {
        let pipeline = EventPipeline::new(vec![Arc::new(AuditConsumer(self.stores.audit.clone()))]);
        drain(self.memory.as_ref(), &pipeline, 100).await.unwrap();
        self.stores
            .audit
            .recent(tenant, self.clock_now(), limit)
            .await
            .unwrap()
    }

    pub fn caller(&self) -> Caller<'_> {
        Caller {
            tenant: &self.tenant,
            ip: Some("198.51.100.7"),
        }
    }

    /// A complete sign-in by email code.
    pub async fn sign_in(&self, identifier: &str) -> SignedIn {
        let started = self
            .authkit
            .start_sign_in(self.caller(), code_for(identifier))
            .await
            .unwrap();
        self.authkit
            .sign_in_with_answer(
                self.caller(),
                started.id.as_str(),
                &self.sender.last_secret(),
            )
            .await
            .unwrap()
    }
}

/// A sign-in by code that then bound a device (the laptop of [`laptop`]).
pub struct WithDevice {
    pub signed_in: SignedIn,
    /// The sign-in's access token, authenticated.
    pub claims: AccessClaims,
    pub bound: BoundDevice,
}

impl WithDevice {
    /// The device credential in clear, as the app keeps it.
    pub fn credential(&self) -> String {
        self.bound.credential.reveal()
    }
}

impl Harness {
    /// Signs in by code as `identifier`, then binds [`laptop`] under `name`, trusted or
    /// not: the start of every device test.
    pub async fn sign_in_with_device(
        &self,
        identifier: &str,
        name: Option<&str>,
        trusted: bool,
    ) -> WithDevice {
        let signed_in = self.sign_in(identifier).await;
        let claims = self
            .authkit
            .authenticate_access_token(&self.tenant.id, &signed_in.tokens.access_token)
            .unwrap();
        let bound = self
            .authkit
            .bind_device(
                self.caller(),
                &claims,
                laptop(),
                name.map(str::to_owned),
                trusted,
            )
            .await
            .unwrap();
        WithDevice {
            signed_in,
            claims,
            bound,
        }
    }
}

impl Harness {
    /// Proves `identifier` for the user `claims` name: the code sent to it, answered.
    pub async fn prove_identifier(
        &self,
        claims: &AccessClaims,
        identifier: &str,
    ) -> Result<crate::user::User, crate::error::AuthError> {
        let started = self
            .authkit
            .start_identifier_change(self.caller(), claims, identifier)
            .await?;
        self.authkit
            .verify_identifier_change(
                self.caller(),
                claims,
                started.id.as_str(),
                &self.sender.last_secret(),
            )
            .await
    }
}

pub fn code_for(identifier: &str) -> StartRequest<'_> {
    StartRequest {
        identifier,
        channel: None,
        kind: RequestedKind::Code,
        redirect_uri: None,
        code_challenge: None,
        response_mode: Default::default(),
    }
}

pub fn laptop() -> Fingerprint {
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
