//! Calling the operator API and the tenant API of a test app, as their clients do.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use crate::TestApp;

/// A new unique idempotency key.
pub fn idempotency_key() -> String {
    format!("test-{}", crate::unique())
}

impl TestApp {
    /// A request to the operator API with the operator's credentials.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.operator_token)
    }

    /// A request to the tenant API with `key` (the tenant's secret key).
    pub fn tenant_api(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("x-api-key", key)
    }

    /// Creates a tenant through the operator API; its object with `api_keys`.
    pub async fn create_tenant(&self, id: &str) -> Value {
        let response = self
            .admin(Method::POST, "/admin/v1/tenants")
            .header("idempotency-key", idempotency_key())
            .json(&json!({"id": id, "name": "Created Tenant",
                          "allowed_redirect_uris": [crate::REDIRECT_URI]}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 201, "{}", text(response).await);
        response.json().await.expect("a tenant")
    }

    /// A fresh tenant id no other test uses.
    pub fn unique_tenant_id(&self) -> String {
        let suffix = crate::unique();
        format!("t{}", &suffix[suffix.len().saturating_sub(30)..]).to_lowercase()
    }
}

/// The key of `kind` among a created tenant's `api_keys`: its secret.
pub fn secret_of(tenant: &Value, kind: &str) -> String {
    tenant["api_keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["kind"] == kind))
        .and_then(|key| key["secret"].as_str())
        .unwrap_or_else(|| panic!("no {kind} key in {tenant}"))
        .to_owned()
}

pub async fn text(response: Response) -> String {
    response.text().await.unwrap_or_default()
}

/// A response's status and its problem `code` (empty when it has none).
pub async fn code_of(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}
