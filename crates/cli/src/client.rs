//! Sending a call: to the local server with its operator token, or to a deployment's admin
//! API signed with SigV4; retried on network errors, throttling and 5xx with the same
//! Idempotency-Key, so a retry never creates twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use serde_json::Value;

use crate::args::{Call, Target};
use crate::sigv4;

/// How requests prove who sends them.
pub enum Auth {
    Token(String),
    SigV4 {
        credentials: Credentials,
        region: String,
    },
}

pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    auth: Auth,
}

/// Where the local server writes its operator token unless told otherwise.
const DEFAULT_TOKEN_FILE: &str = ".authkit/operator-token";
const ATTEMPTS: u32 = 3;

impl Client {
    /// A client for `target`: a token when one is given or the local server's file has one,
    /// else SigV4 with the default credential chain.
    pub async fn new(target: &Target) -> Result<Client, String> {
        let raw_url = target
            .url
            .clone()
            .or_else(|| env("AUTHKIT_ADMIN_URL"))
            .ok_or(
            "--url (or AUTHKIT_ADMIN_URL) is required: the local server's URL or the admin API's",
        )?;
        let base = url::Url::parse(raw_url.trim_end_matches('/'))
            .map_err(|e| format!("--url `{raw_url}`: {e}"))?;
        let auth = match token(target, &base)? {
            Some(token) => Auth::Token(token),
            None => signing(target, &base).await?,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
        Ok(Client { http, base, auth })
    }

    /// Sends the call: its status and JSON answer.
    pub async fn send(
        &self,
        call: &Call,
        path: &str,
        idempotency_key: &str,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        let body = call.body.as_ref().map(Value::to_string).unwrap_or_default();
        let mut headers: Vec<(&str, String)> = Vec::new();
        if call.body.is_some() {
            headers.push(("content-type", "application/json".into()));
        }
        if call.creates {
            headers.push(("idempotency-key", idempotency_key.to_owned()));
        }
        if let Some(etag) = &call.if_match {
            headers.push(("if-match", etag.clone()));
        }
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            let mut request = self.http.request(
                reqwest::Method::from_bytes(call.method.as_bytes()).map_err(|e| e.to_string())?,
                &url,
            );
            for (name, value) in self.authorisation(call.method, &url, &headers, body.as_bytes())? {
                request = request.header(name, value);
            }
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            if call.body.is_some() {
                request = request.body(body.clone());
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry = status == 429 || status >= 500;
                    let text = response.text().await.unwrap_or_default();
                    if retry && attempt + 1 < ATTEMPTS {
                        last_error = format!("{status}: {text}");
                        continue;
                    }
                    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    return Ok((status, value));
                }
                Err(error) => last_error = format!("{url}: {error}"),
            }
        }
        Err(last_error)
    }

    fn authorisation(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        match &self.auth {
            Auth::Token(token) => Ok(vec![("authorization".into(), format!("Bearer {token}"))]),
            Auth::SigV4 {
                credentials,
                region,
            } => sigv4::sign(
                credentials,
                region,
                method,
                url,
                headers,
                body,
                std::time::SystemTime::now(),
            ),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The operator token: given, or in the file the local server wrote. Looking in the
/// default file only for a server on this machine keeps a deployment's calls signed.
fn token(target: &Target, base: &url::Url) -> Result<Option<String>, String> {
    if let Some(token) = target
        .token
        .clone()
        .or_else(|| env("AUTHKIT_OPERATOR_TOKEN"))
    {
        return Ok(Some(token));
    }
    let named = target
        .token_file
        .clone()
        .or_else(|| env("AUTHKIT_OPERATOR_TOKEN_FILE").map(PathBuf::from));
    let file = match named {
        Some(file) => file,
        None if is_loopback(base) => PathBuf::from(DEFAULT_TOKEN_FILE),
        None => return Ok(None),
    };
    read_token(&file).map(Some)
}

fn read_token(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file)
        .map(|token| token.trim().to_owned())
        .map_err(|e| {
            format!(
                "cannot read the operator token from {}: {e} (start the local server, or pass --token)",
                file.display()
            )
        })
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// SigV4 with the default credential chain, in the admin API's region.
async fn signing(target: &Target, base: &url::Url) -> Result<Auth, String> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let provider = sdk.credentials_provider().ok_or(
        "no AWS credentials: configure them (aws configure, AWS_PROFILE, SSO), or pass --token for a local server",
    )?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("cannot load AWS credentials: {e}"))?;
    let region = target
        .region
        .clone()
        .or_else(|| execute_api_region(base))
        .or_else(|| sdk.region().map(ToString::to_string))
        .ok_or("which region? pass --region or set AWS_REGION")?;
    Ok(Auth::SigV4 {
        credentials,
        region,
    })
}

/// `<api id>.execute-api.<region>.amazonaws.com` names its region.
fn execute_api_region(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    let mut labels = host.split('.');
    let (_, service, region) = (labels.next()?, labels.next()?, labels.next()?);
    (service == "execute-api").then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_an_execute_api_host() {
        let url = url::Url::parse("https://a1b2c3.execute-api.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(execute_api_region(&url).as_deref(), Some("eu-west-1"));
        let custom = url::Url::parse("https://admin.auth.example.com").unwrap();
        assert_eq!(execute_api_region(&custom), None);
    }

    #[test]
    fn only_a_server_on_this_machine_is_looked_up_in_the_default_token_file() {
        for (url, local) in [
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080", true),
            ("http://[::1]:8080", true),
            ("https://a1b2c3.execute-api.eu-west-1.amazonaws.com", false),
        ] {
            assert_eq!(is_loopback(&url::Url::parse(url).unwrap()), local, "{url}");
        }
    }
}
