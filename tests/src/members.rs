//! Tenant members in tests, as a console web app would be one: the console tenant made
//! by the operator API, a member invited by the tenant, signed in to the console with an
//! email code and accepting.

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::operator::{secret_of, text};
use crate::TestApp;

/// Where the console's web app is served from, in tests.
pub const CONSOLE_ORIGIN: &str = "https://console.example.com";

/// The console tenant's first keys, as its bootstrap shows them once.
pub struct ConsoleKeys {
    /// For the console's browsers: members sign in with it.
    pub publishable: String,
    /// For the deployment's own servers (e.g. erasing a console user).
    pub secret: String,
}

impl TestApp {
    /// Creates the console tenant (idempotent); its keys the first time.
    pub async fn bootstrap_console(&self) -> Option<ConsoleKeys> {
        let response = self
            .admin(Method::POST, "/admin/v1/console")
            .json(&json!({"allowed_origins": [CONSOLE_ORIGIN]}))
            .send()
            .await
            .expect("the server answers");
        match response.status().as_u16() {
            201 => {
                let tenant = response.json::<Value>().await.expect("a tenant");
                Some(ConsoleKeys {
                    publishable: secret_of(&tenant, "publishable"),
                    secret: secret_of(&tenant, "secret"),
                })
            }
            200 => None,
            other => panic!("console bootstrap: {other} {}", text(response).await),
        }
    }

    /// Signs `email` in to the console (with its publishable key) and accepts whatever it
    /// was invited to: its access token and user id.
    pub async fn console_sign_in(&self, console_key: &str, email: &str) -> (String, String) {
        let started: Value = self
            .post(
                "/v1/auth/start",
                Some(console_key),
                json!({"identifier": email}),
            )
            .await
            .json()
            .await
            .expect("JSON");
        let code = self.code_sent_to(email).await;
        let signed_in: Value = self
            .post(
                "/v1/auth/verify",
                Some(console_key),
                json!({"challenge_id": started["challenge_id"], "code": code}),
            )
            .await
            .json()
            .await
            .expect("JSON");
        let token = signed_in["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("signed in to the console: {signed_in}"))
            .to_owned();
        let accepted = self
            .http
            .post(self.url("/v1/memberships/accept"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answers");
        assert_eq!(accepted.status(), 200, "{}", text(accepted).await);
        (
            token,
            signed_in["user_id"].as_str().expect("a user").to_owned(),
        )
    }

    /// A new member of the tenant whose secret key this is, with `role`: their token and id.
    pub async fn member_of(
        &self,
        console_key: &str,
        secret_key: &str,
        role: &str,
    ) -> (String, String) {
        let email = self.unique_email();
        let invited = self
            .tenant_api(Method::POST, "/v1/members", secret_key)
            .json(&json!({"email": email, "role": role}))
            .send()
            .await
            .expect("answers");
        assert_eq!(invited.status(), 202, "{}", text(invited).await);
        self.console_sign_in(console_key, &email).await
    }

    /// A tenant-API request as a member of `tenant`.
    pub fn as_member(
        &self,
        method: Method,
        path: &str,
        token: &str,
        tenant: &str,
    ) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("authkit-tenant", tenant)
    }
}
