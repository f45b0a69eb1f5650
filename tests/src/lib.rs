//! The integration-test harness: spawns AuthKit's real router on a random loopback port and
//! talks to it over HTTP like any client. Each test gets its own tenant (and, against the
//! emulator, its own DynamoDB tables), so tests run in parallel without sharing state.

pub mod cognito_driver;
pub mod fault_proxy;
pub mod lambda_runtime_api;
pub mod local_server;
pub mod logs;
pub mod members;
pub mod operator;
pub mod round_trips;
pub mod streams;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use authkit_app::{App, Config};
use serde_json::Value;

pub const REDIRECT_URI: &str = "https://app.example.com/callback";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, the dev outbox, a key file: `cargo run -p authkit-local`.
    Embedded,
    /// DynamoDB, SNS, SES and Secrets Manager in the emulator at AUTHKIT_TEST_ENDPOINT.
    Emulator,
}

pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    pub issuer: String,
    pub tenant: String,
    pub publishable_key: String,
    pub secret_key: String,
    /// What the operator API (`/admin/v1`) takes as `Authorization: Bearer`.
    pub operator_token: String,
    pub redirect_uri: String,
    pub http: reqwest::Client,
    /// The configuration the app was built from, for starting Lambda binaries alike.
    pub env: Vec<(String, String)>,
    /// The service behind the router, for setting up what no route does yet (a second
    /// tenant).
    pub authkit: std::sync::Arc<authkit_domain::AuthKit>,
    emulator: Option<String>,
    _scratch: tempfile::TempDir,
}

/// The emulator's endpoint, or None when the emulator tests should be skipped.
pub fn emulator_endpoint() -> Option<String> {
    match std::env::var("AUTHKIT_TEST_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var("AUTHKIT_REQUIRE_EMULATOR").as_deref() == Ok("1") => {
            panic!("AUTHKIT_REQUIRE_EMULATOR=1 but AUTHKIT_TEST_ENDPOINT is not set; run `bash scripts/test.sh`")
        }
        _ => {
            eprintln!("SKIPPING the emulator half of this test: AUTHKIT_TEST_ENDPOINT is not set (bash scripts/test.sh sets it)");
            None
        }
    }
}

/// Runs `test` against a fresh app on every backend available.
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    test(TestApp::spawn(Backend::Embedded).await).await;
    if emulator_endpoint().is_some() {
        test(TestApp::spawn(Backend::Emulator).await).await;
    }
}

pub(crate) fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!(
        "{}{:x}{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, &[]).await
    }

    /// An app with extra configuration variables (docs/configuration.md) on top of the
    /// backend's.
    pub async fn spawn_with(backend: Backend, extra: &[(&'static str, &str)]) -> TestApp {
        TestApp::spawn_with_policy(backend, extra, Default::default()).await
    }

    /// An app with extra configuration and a tenant with this policy.
    pub async fn spawn_with_policy(
        backend: Backend,
        extra: &[(&'static str, &str)],
        policy: authkit_domain::tenant::TenantPolicy,
    ) -> TestApp {
        let scratch = tempfile::tempdir().expect("a temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address: SocketAddr = listener.local_addr().expect("a bound address");
        let base_url = format!("http://{address}");
        let suffix = unique();

        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("AUTHKIT_ISSUER", base_url.clone());
        vars.insert(
            "AUTHKIT_KEY_FILE",
            scratch.path().join("keys.json").display().to_string(),
        );
        let emulator = match backend {
            Backend::Embedded => None,
            Backend::Emulator => {
                let endpoint = emulator_endpoint().expect("emulator endpoint");
                let prefix = format!("t{suffix}-");
                emulator_setup(&endpoint, &prefix, &mut vars).await;
                // The test emulator answers one request at a time for every test running
                // at once: a loaded machine must not turn its queue into SDK retries of
                // writes that were applied (tests of timeouts set their own).
                vars.insert("AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS", "10000".into());
                vars.insert("AUTHKIT_AWS_OPERATION_TIMEOUT_MS", "30000".into());
                Some(endpoint)
            }
        };
        vars.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
        let config = Config::from_lookup(|name| vars.get(name).cloned())
            .expect("a valid test configuration");
        let app = App::build(config).await.expect("the app builds");

        let tenant = format!("t{}", &suffix[suffix.len().saturating_sub(30)..]).to_lowercase();
        let created = app
            .authkit
            .create_tenant(authkit_domain::service::NewTenant {
                id: authkit_domain::tenant::TenantId::parse(&tenant).expect("valid tenant id"),
                name: "Test Tenant".into(),
                allowed_redirect_uris: vec![REDIRECT_URI.into()],
                policy,
            })
            .await
            .expect("tenant created");

        let operator_token = format!("akop_test{suffix}");
        let authkit = app.authkit.clone();
        let router = authkit_local::router(&app, authkit_api::OperatorAuth::token(&operator_token));
        tokio::spawn(authkit_local::serve(
            listener,
            router,
            std::future::pending(),
        ));
        TestApp {
            backend,
            issuer: base_url.clone(),
            base_url,
            tenant,
            publishable_key: created.publishable_key.reveal(),
            secret_key: created.secret_key.reveal(),
            operator_token,
            redirect_uri: REDIRECT_URI.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client"),
            env: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            emulator,
            authkit,
            _scratch: scratch,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A client that reports redirects instead of following them.
    pub fn no_redirects(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    }

    pub fn unique_email(&self) -> String {
        format!("user{}@example.com", unique())
    }

    /// A fresh US mobile number in the 555-01xx-free 415 range, valid for libphonenumber.
    pub fn unique_phone(&self) -> String {
        let n: u64 = unique().bytes().fold(7u64, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(u64::from(b))
        });
        format!("+1415{:07}", 2_000_000 + n % 7_000_000)
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: Value) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send().await.expect("the server answers")
    }

    pub async fn start(&self, identifier: &str) -> Value {
        let response = self
            .post(
                "/v1/auth/start",
                Some(&self.publishable_key),
                serde_json::json!({"identifier": identifier}),
            )
            .await;
        assert_eq!(
            response.status(),
            200,
            "start failed: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("start returns JSON")
    }

    pub async fn verify_code(&self, challenge_id: &str, code: &str) -> reqwest::Response {
        self.post(
            "/v1/auth/verify",
            Some(&self.publishable_key),
            serde_json::json!({"challenge_id": challenge_id, "code": code}),
        )
        .await
    }

    /// Start, read the code where it was delivered, verify: the tokens response.
    pub async fn sign_in(&self, identifier: &str) -> Value {
        let started = self.start(identifier).await;
        let code = self.code_sent_to(identifier).await;
        let response = self
            .verify_code(
                started["challenge_id"].as_str().expect("a challenge id"),
                &code,
            )
            .await;
        assert_eq!(
            response.status(),
            200,
            "verify failed: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("verify returns JSON")
    }

    /// The newest one-time code delivered to `destination`.
    pub async fn code_sent_to(&self, destination: &str) -> String {
        let text = self.newest_message_to(destination).await;
        let digits: Vec<&str> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() == 6)
            .collect();
        digits
            .first()
            .unwrap_or_else(|| panic!("no 6-digit code in the message to {destination}: {text}"))
            .to_string()
    }

    /// The newest magic link delivered to `destination`.
    pub async fn link_sent_to(&self, destination: &str) -> String {
        let text = self.newest_message_to(destination).await;
        let start = text
            .find("http")
            .unwrap_or_else(|| panic!("no link in the message to {destination}: {text}"));
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '\''))
            .collect();
        link.replace("&amp;", "&")
    }

    /// Opens a magic link's page and presses its button as a browser does: the page's hidden
    /// fields and cookie go back in a same-origin POST. The POST's answer, not followed.
    pub async fn confirm_link(&self, link: &str) -> reqwest::Response {
        self.link_confirmation(link)
            .await
            .send()
            .await
            .expect("the server answers")
    }

    /// Opens a magic link's page and returns the POST its button would send (the page's
    /// hidden fields and cookie, same-origin), not sent yet.
    pub async fn link_confirmation(&self, link: &str) -> reqwest::RequestBuilder {
        let page = self.http.get(link).send().await.expect("the page answers");
        assert_eq!(page.status(), 200, "the link's page");
        let cookies: Vec<String> = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        let fields = hidden_fields(&page.text().await.expect("a page"));
        let mut post = self
            .no_redirects()
            .post(self.url("/v1/auth/link"))
            .header("origin", &self.base_url)
            .header("sec-fetch-site", "same-origin")
            .form(&fields);
        if !cookies.is_empty() {
            post = post.header("cookie", cookies.join("; "));
        }
        post
    }

    /// The text of the newest message delivered to `destination` (the dev outbox, or what
    /// the emulator's SES/SNS "sent").
    pub async fn newest_message_to(&self, destination: &str) -> String {
        for _ in 0..50 {
            let found = match &self.emulator {
                None => self.outbox_message(destination).await,
                Some(endpoint) => emulator_message(&self.http, endpoint, destination).await,
            };
            if let Some(text) = found {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nothing was delivered to {destination}");
    }

    async fn outbox_message(&self, destination: &str) -> Option<String> {
        let messages: Vec<Value> = self
            .http
            .get(self.url("/dev/outbox"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        messages
            .iter()
            .rev()
            .find(|m| m["to"].as_str() == Some(destination))
            .and_then(|m| m["text"].as_str().map(str::to_owned))
    }

    /// Verifies a token as a third party would: fetch the JWKS over HTTP, pick the key by
    /// `kid`, verify with `jsonwebtoken` pinned to ES256. Returns the claims.
    pub async fn verify_with_published_jwks(&self, token: &str) -> Value {
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("JWKS answers")
            .json()
            .await
            .expect("JWKS is a JWK set");
        let header = jsonwebtoken::decode_header(token).expect("a JWT header");
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let jwk = jwks
            .find(header.kid.as_deref().expect("a kid"))
            .expect("the kid is published");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a usable JWK");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.tenant]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .expect("the token verifies with the published JWKS")
            .claims
    }
}

/// The hidden fields of a page's form (`<input type="hidden" name="…" value="…">`).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split(r#"<input type="hidden" name=""#)
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let (value, _) = rest.strip_prefix(r#" value=""#)?.split_once('"')?;
            Some((name.to_owned(), value.replace("&amp;", "&")))
        })
        .collect()
}

/// SDK configuration for the emulator at `endpoint`, with test credentials.
pub async fn emulator_sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(authkit_app::aws_http::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::for_tests())
        .load()
        .await
}

/// Tables, a verified sender identity and the key secret in the emulator, and the
/// variables that point the app at them.
async fn emulator_setup(endpoint: &str, prefix: &str, vars: &mut HashMap<&'static str, String>) {
    let sdk = emulator_sdk(endpoint).await;
    let tables = authkit_dynamodb::TableNames::with_prefix(prefix);
    authkit_dynamodb::create_tables(&aws_sdk_dynamodb::Client::new(&sdk), &tables)
        .await
        .expect("tables created");
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity("no-reply@example.com")
        .send()
        .await
        .expect("sender identity created");
    // A deployment's layout: the signing keys in one secret, the pepper alone in another.
    let material = authkit_domain::token::KeyMaterial::generate(&authkit_domain::OsRandomness);
    let mut signing: Value = serde_json::from_str(&material.to_json()).expect("key JSON");
    let pepper = signing
        .as_object_mut()
        .and_then(|document| document.remove("pepper"))
        .expect("a pepper");
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    for (name, value) in [
        ("keys", signing),
        ("pepper", serde_json::json!({ "pepper": pepper })),
    ] {
        secrets
            .create_secret()
            .name(format!("{prefix}{name}"))
            .secret_string(value.to_string())
            .send()
            .await
            .expect("key secret created");
    }

    vars.insert("AUTHKIT_STORE", "dynamodb".into());
    vars.insert("AUTHKIT_TABLE_CHALLENGES", tables.challenges.clone());
    vars.insert("AUTHKIT_TABLE_DEVICES", tables.devices.clone());
    vars.insert("AUTHKIT_TABLE_COUNTERS", tables.counters.clone());
    vars.insert("AUTHKIT_TABLE_AUDIT", tables.audit.clone());
    vars.insert("AUTHKIT_TABLE_DIRECTORY", tables.directory.clone());
    vars.insert("AUTHKIT_TABLE_EVENTS", tables.events.clone());
    vars.insert("AUTHKIT_DELIVERY", "aws".into());
    vars.insert("AUTHKIT_SES_FROM", "no-reply@example.com".into());
    vars.insert("AUTHKIT_KEYS_SECRET_ID", format!("{prefix}keys"));
    vars.insert("AUTHKIT_PEPPER_SECRET_ID", format!("{prefix}pepper"));
    vars.insert("AWS_ENDPOINT_URL", endpoint.to_owned());
    vars.insert("AWS_REGION", "us-east-1".into());
}

/// The newest SMS or email the emulator recorded for `destination`: moto keeps them at
/// `/moto-api/data.json`, LocalStack at `/_aws/ses` and `/_aws/sns/sms-messages`.
async fn emulator_message(
    http: &reqwest::Client,
    endpoint: &str,
    destination: &str,
) -> Option<String> {
    let get = |path: String| async move {
        http.get(path)
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?
            .json::<Value>()
            .await
            .ok()
    };
    if let Some(data) = get(format!("{endpoint}/moto-api/data.json")).await {
        let sms = data["sns"]["SMS"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["phone_number"].as_str() == Some(destination))
            .map(|m| m["message"].as_str().unwrap_or_default().to_owned());
        let email = data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| addressed_to(&m["destinations"]["ToAddresses"], destination))
            .map(|m| m["body"].as_str().unwrap_or_default().to_owned());
        return sms.chain(email).last();
    }
    let sms = get(format!("{endpoint}/_aws/sns/sms-messages")).await;
    let sms = sms
        .as_ref()
        .and_then(|d| d["sms_messages"][destination].as_array())
        .and_then(|m| m.last())
        .and_then(|m| m["Message"].as_str())
        .map(str::to_owned);
    let email = get(format!("{endpoint}/_aws/ses")).await;
    let email = email
        .as_ref()
        .and_then(|d| d["messages"].as_array())
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| addressed_to(&m["Destination"]["ToAddresses"], destination))
                .and_then(|m| m["Body"]["text_part"].as_str())
                .map(str::to_owned)
        });
    sms.or(email)
}

fn addressed_to(addresses: &Value, destination: &str) -> bool {
    addresses
        .as_array()
        .is_some_and(|to| to.iter().any(|a| a.as_str() == Some(destination)))
}
