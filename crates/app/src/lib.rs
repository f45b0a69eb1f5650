//! AuthKit's composition root. Configuration is read once from the environment into
//! [`Config`] (every variable and default is documented in docs/configuration.md); a bad
//! value fails at start, naming the variable. [`App::build`] then picks the adapters.

pub mod aws_http;
mod config;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use authkit_domain::audit::AuditConsumer;
use authkit_domain::delivery::{DeliveryError, DeliveryReceipt, OutgoingMessage, Sender};
use authkit_domain::event::{drain, EventPipeline};
use authkit_domain::identifier::Channel;
use authkit_domain::memory::MemoryStore;
use authkit_domain::service::{
    KeySource, PublicKeys, PublishedKeys, ServiceSettings, SignupMode, StaticKeys,
};
use authkit_domain::store::{AuditLog, Stores};
use authkit_domain::{AuthKit, OsRandomness, SystemClock};

pub use config::{
    AwsTimeouts, CognitoConfig, Config, ConfigError, DeliveryChoice, KeysChoice, StoreChoice,
};

/// Everything a binary needs, built once per process.
pub struct App {
    pub authkit: Arc<AuthKit>,
    /// The dev outbox, when delivery goes there (local server only).
    #[cfg(feature = "dev-outbox")]
    pub outbox: Option<Arc<authkit_delivery::Outbox>>,
    pub config: Config,
    /// The AWS SDK configuration, when an adapter needed it, for clients built elsewhere
    /// (the Cognito triggers' user-pool client).
    pub sdk: Option<aws_config::SdkConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot load key material")]
    Keys(#[from] authkit_keys::KeyError),
    #[error("AUTHKIT_DELIVERY=outbox is for the local server only; Lambda functions deliver with AUTHKIT_DELIVERY=aws")]
    OutboxNotAvailable,
}

/// The AWS SDK configuration, loaded once per process.
async fn aws_sdk_config(config: &Config) -> Result<aws_config::SdkConfig, BuildError> {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(config.aws_timeouts.attempt)
        .operation_attempt_timeout(config.aws_timeouts.attempt)
        .operation_timeout(config.aws_timeouts.operation)
        .build();
    sdk_config(config, timeouts).await
}

/// The SDK's whole default chain (profiles, SSO, web identity, container and instance
/// credentials): what a developer's machine or an admin command may need.
#[cfg(feature = "aws-credential-chain")]
async fn sdk_config(
    config: &Config,
    timeouts: aws_config::timeout::TimeoutConfig,
) -> Result<aws_config::SdkConfig, BuildError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(aws_http::https_client());
    if let Some(endpoint) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &config.aws_region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    Ok(loader.load().await)
}

/// What a Lambda function needs: Lambda puts the region and the role's credentials in the
/// environment, so the default chain's other providers (and the STS, SSO and
/// instance-metadata clients they bring) stay out of the binary and out of the cold start.
#[cfg(not(feature = "aws-credential-chain"))]
async fn sdk_config(
    config: &Config,
    timeouts: aws_config::timeout::TimeoutConfig,
) -> Result<aws_config::SdkConfig, BuildError> {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    let region = config.aws_region.clone().ok_or_else(|| {
        ConfigError::new(
            "AWS_REGION",
            "required to reach AWS (Lambda always sets it)",
        )
    })?;
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                EnvironmentVariableCredentialsProvider::new(),
            ),
        )
        .retry_config(aws_config::retry::RetryConfig::standard())
        .timeout_config(timeouts)
        .http_client(aws_http::https_client());
    if let Some(endpoint) = &config.aws_endpoint_url {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(builder.build())
}

/// The sender, and the dev outbox when delivery goes there.
type Delivery = (Arc<dyn Sender>, Option<Arc<authkit_delivery::Outbox>>);

impl App {
    /// The service with its sender: the local server and the functions that send (start,
    /// resend, Cognito's create-auth-challenge and sign-up routes).
    pub async fn build(config: Config) -> Result<App, BuildError> {
        App::assemble(config, configured_delivery).await
    }

    /// The service for a function that never sends (verify, token, devices, users, the
    /// tenant and operator APIs, verify-auth-challenge): its sender reaches no channel, so
    /// the SNS and SES clients are neither built at its cold start nor linked into it.
    pub async fn build_without_delivery(config: Config) -> Result<App, BuildError> {
        App::assemble(config, |_, _| Ok((Arc::new(NoDelivery), None))).await
    }

    // Generic over the sender's constructor, so a binary that never names
    // `configured_delivery` does not link the delivery clients.
    async fn assemble(
        config: Config,
        delivery: impl FnOnce(&Config, Option<&aws_config::SdkConfig>) -> Result<Delivery, BuildError>,
    ) -> Result<App, BuildError> {
        let (issuer, public_base_url) = config.public_urls()?;
        let settings = ServiceSettings {
            issuer: issuer.to_owned(),
            public_base_url: public_base_url.to_owned(),
            default_allowed_origins: config.default_allowed_origins.clone(),
            tenant_cache_secs: config.tenant_cache_secs,
            signup: config.signup.unwrap_or(SignupMode::Off),
        };
        let sdk = if config.needs_aws() {
            Some(aws_sdk_config(&config).await?)
        } else {
            None
        };
        let stores = match &config.store {
            StoreChoice::Embedded => {
                let memory = Arc::new(MemoryStore::new());
                deliver_events_in_process(memory.clone());
                memory.stores()
            }
            StoreChoice::DynamoDb(_) => stores(&config, sdk.as_ref()),
        };
        #[cfg_attr(not(feature = "dev-outbox"), allow(unused_variables))]
        let (sender, outbox) = delivery(&config, sdk.as_ref())?;

        let keys: Arc<dyn KeySource> = match &config.keys {
            KeysChoice::File(path) => Arc::new(StaticKeys(Arc::new(
                authkit_keys::load_or_create_key_file(path, &OsRandomness)?,
            ))),
            KeysChoice::SecretsManager {
                secret_id,
                pepper_secret_id,
                refresh_every,
            } => {
                authkit_keys::sign_in_keys(
                    secrets_client(sdk.as_ref()),
                    secret_id.clone(),
                    pepper_secret_id.clone(),
                    *refresh_every,
                )
                .await?
            }
        };

        let authkit = AuthKit::new(
            stores,
            sender,
            keys,
            Arc::new(SystemClock),
            Arc::new(OsRandomness),
            settings,
        );
        Ok(App {
            authkit: Arc::new(authkit),
            #[cfg(feature = "dev-outbox")]
            outbox,
            config,
            sdk,
        })
    }
}

/// The sender `AUTHKIT_DELIVERY` names.
fn configured_delivery(
    config: &Config,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<Delivery, BuildError> {
    match &config.delivery {
        DeliveryChoice::Aws(settings) => {
            let sdk = sdk.expect("AWS config is loaded for delivery");
            let sender = authkit_delivery::AwsSender::new(
                aws_sdk_sns::Client::new(sdk),
                aws_sdk_sesv2::Client::new(sdk),
                settings.clone(),
            );
            Ok((Arc::new(sender), None))
        }
        #[cfg(feature = "dev-outbox")]
        DeliveryChoice::Outbox { capacity, quiet } => {
            let outbox = Arc::new(authkit_delivery::Outbox::new(*capacity, *quiet));
            Ok((outbox.clone(), Some(outbox)))
        }
        #[cfg(not(feature = "dev-outbox"))]
        DeliveryChoice::Outbox { .. } => Err(BuildError::OutboxNotAvailable),
    }
}

/// The sender of a function that never sends. It reaches no channel, so a start that
/// somehow arrived there would be refused (`ChannelUnavailable`) before anything is
/// stored, and it sends nothing.
struct NoDelivery;

#[async_trait::async_trait]
impl Sender for NoDelivery {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        Err(DeliveryError::ChannelUnavailable(message.channel))
    }

    fn reaches(&self, _channel: Channel) -> bool {
        false
    }
}

/// What the health function needs: the store to probe, and nothing else (no keys, no
/// delivery).
pub async fn readiness_probe(config: &Config) -> Result<Arc<dyn AuditLog>, BuildError> {
    let sdk = if config.uses_dynamodb() {
        Some(aws_sdk_config(config).await?)
    } else {
        None
    };
    Ok(stores(config, sdk.as_ref()).audit)
}

/// What the discovery function needs: the issuer and the public signing keys. It never
/// reads the pepper (which a deployment keeps in a secret of its own).
pub async fn published_keys(config: &Config) -> Result<PublishedKeys, BuildError> {
    let (issuer, _) = config.public_urls()?;
    let keys: Arc<dyn PublicKeys> = match &config.keys {
        KeysChoice::File(path) => Arc::new(StaticKeys(Arc::new(
            authkit_keys::load_or_create_key_file(path, &OsRandomness)?,
        ))),
        KeysChoice::SecretsManager {
            secret_id,
            refresh_every,
            ..
        } => {
            let sdk = aws_sdk_config(config).await?;
            authkit_keys::published_keys(
                secrets_client(Some(&sdk)),
                secret_id.clone(),
                *refresh_every,
            )
            .await?
        }
    };
    Ok(PublishedKeys {
        issuer: issuer.to_owned(),
        keys,
    })
}

/// What the `authkit-events` function runs over every batch of the events stream: the
/// event consumers, each over its own store. Needs `AUTHKIT_STORE=dynamodb` (only
/// DynamoDB has a stream; the embedded store delivers in process).
pub async fn event_pipeline(config: &Config) -> Result<EventPipeline, BuildError> {
    let StoreChoice::DynamoDb(tables) = &config.store else {
        return Err(BuildError::Config(ConfigError {
            variable: "AUTHKIT_STORE".into(),
            problem: "the events function reads DynamoDB's stream: it must be `dynamodb`".into(),
        }));
    };
    let sdk = aws_sdk_config(config).await?;
    let audit =
        authkit_dynamodb::dynamodb_audit_log(aws_sdk_dynamodb::Client::new(&sdk), tables.clone());
    Ok(consumers(audit))
}

/// Every consumer of domain events, in every deployment. Usage metering and webhooks join
/// here.
fn consumers(audit: Arc<dyn AuditLog>) -> EventPipeline {
    EventPipeline::new(vec![Arc::new(AuditConsumer(audit))])
}

/// The embedded store's counterpart of DynamoDB Streams and the `authkit-events`
/// function: a task that hands what the store recorded to the same consumers, in order,
/// every few milliseconds, retrying a failed batch (whole) after a pause.
fn deliver_events_in_process(memory: Arc<MemoryStore>) {
    const BATCH: usize = 100;
    let pipeline = consumers(memory.clone());
    tokio::spawn(async move {
        loop {
            match drain(memory.as_ref(), &pipeline, BATCH).await {
                Ok(0) => tokio::time::sleep(Duration::from_millis(20)).await,
                Ok(_) => {}
                Err(failed) => {
                    tracing::error!(consumer = failed.consumer, error = %failed.source, "event delivery failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

fn stores(config: &Config, sdk: Option<&aws_config::SdkConfig>) -> Stores {
    match &config.store {
        StoreChoice::Embedded => authkit_domain::memory::MemoryStore::new().into_stores(),
        StoreChoice::DynamoDb(tables) => {
            let client =
                aws_sdk_dynamodb::Client::new(sdk.expect("AWS config is loaded for DynamoDB"));
            authkit_dynamodb::dynamodb_stores(client, tables.clone())
        }
    }
}

fn secrets_client(sdk: Option<&aws_config::SdkConfig>) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(sdk.expect("AWS config is loaded for Secrets Manager"))
}
