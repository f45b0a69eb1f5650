//! Typed configuration, read once. Defaults suit the local server; the Terraform stack sets
//! every variable a Lambda function needs.

use std::path::PathBuf;
use std::time::Duration;

use authkit_api::{ClientIpSource, Edge};
use authkit_delivery::AwsSenderSettings;
use authkit_domain::service::SignupMode;
use authkit_domain::tenant::DeploymentOrigins;
use authkit_dynamodb::TableNames;

#[derive(Debug, Clone, PartialEq)]
pub enum StoreChoice {
    Embedded,
    DynamoDb(TableNames),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryChoice {
    /// Print and keep messages (local server only).
    Outbox {
        capacity: usize,
        quiet: bool,
    },
    Aws(AwsSenderSettings),
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeysChoice {
    File(PathBuf),
    SecretsManager {
        /// The signing keys (and, in the single-secret layout, the pepper).
        secret_id: String,
        /// The pepper's own secret; only functions that hash secrets are given it.
        pepper_secret_id: Option<String>,
        refresh_every: Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CognitoConfig {
    pub user_pool_id: Option<String>,
    /// The tenant whose policy Cognito sign-ins use.
    pub tenant: Option<String>,
    /// Rounds DefineAuthChallenge allows before failing the sign-in.
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub store: StoreChoice,
    pub delivery: DeliveryChoice,
    pub keys: KeysChoice,
    /// AUTHKIT_ISSUER. Unset, the local server names itself by the address it bound
    /// ([`Config::with_default_base_url`]); a Lambda function refuses to start.
    pub issuer: Option<String>,
    /// AUTHKIT_PUBLIC_BASE_URL; unset, AUTHKIT_ISSUER (or, like it, the bound address).
    pub public_base_url: Option<String>,
    pub cognito: CognitoConfig,
    /// How requests reach the API: where the client's address comes from, and the origin
    /// secret a front (CloudFront) must present.
    pub edge: Edge,
    /// AUTHKIT_CORS_ALLOWED_ORIGINS: browser origins allowed for tenants without a list of
    /// their own (those created before tenants had lists).
    pub default_allowed_origins: DeploymentOrigins,
    /// AWS_ENDPOINT_URL: one endpoint for every AWS service (moto, LocalStack). Read here,
    /// not left to the SDK, so that tests can point two apps at two places in one process.
    pub aws_endpoint_url: Option<String>,
    /// AWS_REGION; unset, the SDK's own chain decides (Lambda always sets it).
    pub aws_region: Option<String>,
    /// How long one AWS call may take, so a service that stops answering ends in a
    /// typed 503 rather than in the function's own timeout.
    pub aws_timeouts: AwsTimeouts,
    /// AUTHKIT_TENANT_CACHE_SECS: how long a warm process trusts an API key and a tenant
    /// it read; a revoked key stops working within this bound.
    pub tenant_cache_secs: u32,
    /// AUTHKIT_SIGNUP: `open`, `invite_only` or `off`; unset, `off` (the local server
    /// makes it `open`: [`Config::with_default_signup`]).
    pub signup: Option<SignupMode>,
}

/// Bounds on every AWS SDK call (docs/configuration.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// One attempt, connecting included (AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS).
    pub attempt: Duration,
    /// All attempts and the backoff between them (AUTHKIT_AWS_OPERATION_TIMEOUT_MS).
    pub operation: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

fn error(variable: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::new(variable, problem)
}

impl ConfigError {
    pub(crate) fn new(variable: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let store = match get("AUTHKIT_STORE").as_deref() {
            None | Some("embedded") => StoreChoice::Embedded,
            Some("dynamodb") => StoreChoice::DynamoDb(
                TableNames::from_lookup(&get)
                    .map_err(|missing| error(&missing.0, "required when AUTHKIT_STORE=dynamodb"))?,
            ),
            Some(other) => {
                return Err(error(
                    "AUTHKIT_STORE",
                    format!("`{other}` is not one of embedded, dynamodb"),
                ))
            }
        };

        let delivery = match get("AUTHKIT_DELIVERY").as_deref() {
            None | Some("outbox") => DeliveryChoice::Outbox {
                capacity: number(&get, "AUTHKIT_OUTBOX_CAPACITY", 200, 1..=1_000_000)? as usize,
                quiet: flag(&get, "AUTHKIT_OUTBOX_QUIET")?,
            },
            Some("aws") => DeliveryChoice::Aws(AwsSenderSettings {
                ses_from: get("AUTHKIT_SES_FROM").ok_or_else(|| {
                    error("AUTHKIT_SES_FROM", "required when AUTHKIT_DELIVERY=aws")
                })?,
                ses_configuration_set: get("AUTHKIT_SES_CONFIGURATION_SET"),
                sns_sender_id: get("AUTHKIT_SNS_SENDER_ID"),
                sns_origination_number: get("AUTHKIT_SNS_ORIGINATION_NUMBER"),
            }),
            Some(other) => {
                return Err(error(
                    "AUTHKIT_DELIVERY",
                    format!("`{other}` is not one of outbox, aws"),
                ))
            }
        };

        let keys = match get("AUTHKIT_KEYS_SECRET_ID") {
            Some(secret_id) => KeysChoice::SecretsManager {
                secret_id,
                pepper_secret_id: get("AUTHKIT_PEPPER_SECRET_ID"),
                refresh_every: Duration::from_secs(number(
                    &get,
                    "AUTHKIT_KEYS_REFRESH_SECS",
                    300,
                    10..=86_400,
                )?),
            },
            None => KeysChoice::File(PathBuf::from(
                get("AUTHKIT_KEY_FILE").unwrap_or_else(|| ".authkit/keys.json".to_owned()),
            )),
        };

        let issuer = get("AUTHKIT_ISSUER")
            .map(|raw| base_url(&raw, "AUTHKIT_ISSUER"))
            .transpose()?;
        let public_base_url = match get("AUTHKIT_PUBLIC_BASE_URL") {
            Some(raw) => Some(base_url(&raw, "AUTHKIT_PUBLIC_BASE_URL")?),
            None => issuer.clone(),
        };

        let cognito = CognitoConfig {
            user_pool_id: get("AUTHKIT_COGNITO_USER_POOL_ID"),
            tenant: get("AUTHKIT_COGNITO_TENANT"),
            max_attempts: number(&get, "AUTHKIT_COGNITO_MAX_ATTEMPTS", 3, 1..=10)? as u32,
        };

        let edge = edge(&get)?;
        let default_allowed_origins =
            DeploymentOrigins::parse(&get("AUTHKIT_CORS_ALLOWED_ORIGINS").unwrap_or_default())
                .map_err(|problem| error("AUTHKIT_CORS_ALLOWED_ORIGINS", problem))?;

        let aws_endpoint_url = get("AWS_ENDPOINT_URL")
            .map(|raw| base_url(&raw, "AWS_ENDPOINT_URL"))
            .transpose()?;
        let aws_timeouts = aws_timeouts(&get)?;
        Ok(Config {
            store,
            delivery,
            keys,
            issuer,
            public_base_url,
            cognito,
            edge,
            default_allowed_origins,
            aws_endpoint_url,
            aws_region: get("AWS_REGION"),
            aws_timeouts,
            tenant_cache_secs: number(
                &get,
                "AUTHKIT_TENANT_CACHE_SECS",
                u64::from(authkit_domain::service::DEFAULT_TENANT_CACHE_SECS),
                0..=300,
            )? as u32,
            signup: match get("AUTHKIT_SIGNUP") {
                None => None,
                Some(raw) => {
                    Some(SignupMode::parse(raw.trim()).ok_or_else(|| {
                        error("AUTHKIT_SIGNUP", "expected open, invite_only or off")
                    })?)
                }
            },
        })
    }

    /// Self-service sign-up in `mode` unless the environment chose.
    pub fn with_default_signup(mut self, mode: SignupMode) -> Config {
        self.signup.get_or_insert(mode);
        self
    }

    /// Names the server by `base_url` (the local server's bound address) wherever the
    /// environment did not, so tokens, discovery and links point where it really listens.
    pub fn with_default_base_url(mut self, base_url: &str) -> Config {
        self.issuer.get_or_insert_with(|| base_url.to_owned());
        self.public_base_url
            .get_or_insert_with(|| base_url.to_owned());
        self
    }

    /// The issuer and the public base URL, once known.
    pub fn public_urls(&self) -> Result<(&str, &str), ConfigError> {
        match (&self.issuer, &self.public_base_url) {
            (Some(issuer), Some(public_base_url)) => Ok((issuer, public_base_url)),
            _ => Err(error(
                "AUTHKIT_ISSUER",
                "required: the tokens' `iss` and the discovery base (only the local server \
                 derives it, from the address it listens on)",
            )),
        }
    }

    /// True when some adapter talks to AWS, so the SDK configuration must be loaded.
    pub fn needs_aws(&self) -> bool {
        matches!(self.store, StoreChoice::DynamoDb(_))
            || matches!(self.delivery, DeliveryChoice::Aws(_))
            || matches!(self.keys, KeysChoice::SecretsManager { .. })
    }

    pub fn uses_dynamodb(&self) -> bool {
        matches!(self.store, StoreChoice::DynamoDb(_))
    }
}

fn edge(get: &impl Fn(&str) -> Option<String>) -> Result<Edge, ConfigError> {
    let origin_secret_sha256 = get("AUTHKIT_ORIGIN_SECRET_SHA256")
        .map(|raw| {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(raw.trim(), &mut digest).map_err(|_| {
                error(
                    "AUTHKIT_ORIGIN_SECRET_SHA256",
                    "must be 64 hex digits: the SHA-256 of the origin secret",
                )
            })?;
            Ok(digest)
        })
        .transpose()?;
    let client_ip = match get("AUTHKIT_CLIENT_IP_SOURCE").as_deref() {
        None | Some("direct") => ClientIpSource::Direct,
        Some("cloudfront") if origin_secret_sha256.is_some() => ClientIpSource::CloudFront,
        Some("cloudfront") => {
            return Err(error(
                "AUTHKIT_CLIENT_IP_SOURCE",
                "`cloudfront` trusts a header only CloudFront may set: it needs AUTHKIT_ORIGIN_SECRET_SHA256, so requests that bypass CloudFront are refused",
            ))
        }
        Some(other) => {
            return Err(error(
                "AUTHKIT_CLIENT_IP_SOURCE",
                format!("`{other}` is not one of direct, cloudfront"),
            ))
        }
    };
    Ok(Edge {
        client_ip,
        origin_secret_sha256,
    })
}

/// DynamoDB answers in milliseconds and SES in a few hundred; 1.5 s per attempt leaves room
/// for a slow one, and 3.5 s for all of them keeps a call inside a Cognito trigger's 5 s.
fn aws_timeouts(get: &impl Fn(&str) -> Option<String>) -> Result<AwsTimeouts, ConfigError> {
    let attempt = number(get, "AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS", 1_500, 50..=30_000)?;
    let operation = number(get, "AUTHKIT_AWS_OPERATION_TIMEOUT_MS", 3_500, 50..=60_000)?;
    if operation < attempt {
        return Err(error(
            "AUTHKIT_AWS_OPERATION_TIMEOUT_MS",
            format!("{operation} is shorter than one attempt (AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS = {attempt})"),
        ));
    }
    Ok(AwsTimeouts {
        attempt: Duration::from_millis(attempt),
        operation: Duration::from_millis(operation),
    })
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    let value: u64 = raw
        .trim()
        .parse()
        .map_err(|_| error(name, format!("`{raw}` is not a whole number")))?;
    if !range.contains(&value) {
        return Err(error(
            name,
            format!("{value} is outside {}..={}", range.start(), range.end()),
        ));
    }
    Ok(value)
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<bool, ConfigError> {
    match get(name).as_deref() {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(error(
            name,
            format!("`{other}` is not one of true, false, 1, 0"),
        )),
    }
}

/// An http(s) URL without a trailing slash: the issuer must match `iss` byte for byte.
fn base_url(raw: &str, name: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let parsed =
        url::Url::parse(trimmed).map_err(|e| error(name, format!("`{raw}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(error(
            name,
            format!("`{raw}` must be an http(s) URL without query or fragment"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_defaults_run_locally_without_aws() {
        let config = config(&[]).unwrap();
        assert_eq!(config.store, StoreChoice::Embedded);
        assert_eq!(
            config.delivery,
            DeliveryChoice::Outbox {
                capacity: 200,
                quiet: false
            }
        );
        assert_eq!(config.keys, KeysChoice::File(".authkit/keys.json".into()));
        assert_eq!(
            config.issuer, None,
            "the local server names itself once bound"
        );
        assert!(config.public_urls().is_err());
        assert_eq!(config.cognito.max_attempts, 3);
        assert_eq!(
            config.aws_timeouts,
            AwsTimeouts {
                attempt: Duration::from_millis(1_500),
                operation: Duration::from_millis(3_500),
            }
        );
        assert_eq!(config.tenant_cache_secs, 30);
        assert!(!config.needs_aws());
    }

    #[test]
    fn bad_values_fail_naming_the_variable() {
        for (vars, variable) in [
            (vec![("AUTHKIT_STORE", "postgres")], "AUTHKIT_STORE"),
            (
                vec![("AUTHKIT_STORE", "dynamodb")],
                "AUTHKIT_TABLE_CHALLENGES",
            ),
            (vec![("AUTHKIT_DELIVERY", "aws")], "AUTHKIT_SES_FROM"),
            (vec![("AUTHKIT_ISSUER", "not a url")], "AUTHKIT_ISSUER"),
            (
                vec![("AUTHKIT_ISSUER", "ftp://x.example")],
                "AUTHKIT_ISSUER",
            ),
            (
                vec![("AUTHKIT_COGNITO_MAX_ATTEMPTS", "0")],
                "AUTHKIT_COGNITO_MAX_ATTEMPTS",
            ),
            (
                vec![("AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS", "0")],
                "AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS",
            ),
            (
                vec![
                    ("AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS", "2000"),
                    ("AUTHKIT_AWS_OPERATION_TIMEOUT_MS", "1000"),
                ],
                "AUTHKIT_AWS_OPERATION_TIMEOUT_MS",
            ),
            (
                vec![
                    ("AUTHKIT_KEYS_SECRET_ID", "k"),
                    ("AUTHKIT_KEYS_REFRESH_SECS", "soon"),
                ],
                "AUTHKIT_KEYS_REFRESH_SECS",
            ),
            (
                vec![("AUTHKIT_OUTBOX_QUIET", "maybe")],
                "AUTHKIT_OUTBOX_QUIET",
            ),
            (
                vec![("AUTHKIT_CLIENT_IP_SOURCE", "cloudfront")],
                "AUTHKIT_CLIENT_IP_SOURCE",
            ),
            (
                vec![("AUTHKIT_CLIENT_IP_SOURCE", "x-forwarded-for")],
                "AUTHKIT_CLIENT_IP_SOURCE",
            ),
            (
                vec![("AUTHKIT_ORIGIN_SECRET_SHA256", "s3cret")],
                "AUTHKIT_ORIGIN_SECRET_SHA256",
            ),
            (
                vec![(
                    "AUTHKIT_CORS_ALLOWED_ORIGINS",
                    "https://app.example.com/path",
                )],
                "AUTHKIT_CORS_ALLOWED_ORIGINS",
            ),
            (
                vec![("AUTHKIT_TENANT_CACHE_SECS", "3600")],
                "AUTHKIT_TENANT_CACHE_SECS",
            ),
            (vec![("AUTHKIT_SIGNUP", "yes")], "AUTHKIT_SIGNUP"),
        ] {
            let error = config(&vars).expect_err("refused");
            assert_eq!(error.variable, variable, "{vars:?}");
        }
    }

    #[test]
    fn sign_up_is_off_unless_chosen_and_open_by_the_local_default() {
        assert_eq!(
            config(&[]).unwrap().signup,
            None,
            "the app reads None as off"
        );
        let open = config(&[]).unwrap().with_default_signup(SignupMode::Open);
        assert_eq!(open.signup, Some(SignupMode::Open));
        let chosen = config(&[("AUTHKIT_SIGNUP", "invite_only")])
            .unwrap()
            .with_default_signup(SignupMode::Open);
        assert_eq!(
            chosen.signup,
            Some(SignupMode::InviteOnly),
            "the environment wins"
        );
    }

    #[test]
    fn a_full_aws_configuration_is_read() {
        let config = config(&[
            ("AUTHKIT_STORE", "dynamodb"),
            ("AUTHKIT_TABLE_CHALLENGES", "c"),
            ("AUTHKIT_TABLE_DEVICES", "d"),
            ("AUTHKIT_TABLE_COUNTERS", "n"),
            ("AUTHKIT_TABLE_AUDIT", "a"),
            ("AUTHKIT_TABLE_DIRECTORY", "r"),
            ("AUTHKIT_TABLE_EVENTS", "e"),
            ("AUTHKIT_TENANT_CACHE_SECS", "0"),
            ("AUTHKIT_DELIVERY", "aws"),
            ("AUTHKIT_SES_FROM", "no-reply@example.com"),
            ("AUTHKIT_KEYS_SECRET_ID", "authkit/keys"),
            ("AUTHKIT_ISSUER", "https://auth.example.com/"),
        ])
        .unwrap();
        assert!(config.needs_aws());
        assert_eq!(config.tenant_cache_secs, 0, "0 turns the cache off");
        assert_eq!(
            config.public_urls().unwrap(),
            ("https://auth.example.com", "https://auth.example.com")
        );
        assert!(
            matches!(config.keys, KeysChoice::SecretsManager { refresh_every, .. } if refresh_every == Duration::from_secs(300))
        );
    }

    #[test]
    fn the_bound_address_names_the_server_only_where_the_environment_did_not() {
        let bound = "http://127.0.0.1:43117";
        let derived = config(&[]).unwrap().with_default_base_url(bound);
        assert_eq!(derived.public_urls().unwrap(), (bound, bound));

        let issuer_set = config(&[("AUTHKIT_ISSUER", "https://auth.example.com")])
            .unwrap()
            .with_default_base_url(bound);
        assert_eq!(
            issuer_set.public_urls().unwrap(),
            ("https://auth.example.com", "https://auth.example.com")
        );

        let links_elsewhere = config(&[("AUTHKIT_PUBLIC_BASE_URL", "https://tunnel.example.com")])
            .unwrap()
            .with_default_base_url(bound);
        assert_eq!(
            links_elsewhere.public_urls().unwrap(),
            (bound, "https://tunnel.example.com")
        );
    }
}
