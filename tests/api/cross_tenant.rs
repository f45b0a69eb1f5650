//! Tenants cannot reach each other's objects: every operation of the tenant-facing API
//! (`/v1/…`) that takes an id, read from the OpenAPI document, is called with one tenant's
//! credentials and the other tenant's ids, and must answer 404 without the other's data.
//! An operation added later that takes an id fails this test until the table below says
//! which of the other tenant's objects it is about.

use authkit_tests::operator::{idempotency_key, secret_of};
use authkit_tests::{for_each_backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// The other tenant's objects this test owns one of, by the operation's path.
fn other_tenants_id<'a>(path: &str, other: &'a OtherTenant) -> &'a str {
    match path {
        "/v1/api_keys/{id}" | "/v1/api_keys/{id}/revoke" | "/v1/api_keys/{id}/rotate" => {
            &other.key_id
        }
        "/v1/devices/{id}" => &other.device_id,
        "/v1/users/{id}"
        | "/v1/users/{id}/disable"
        | "/v1/users/{id}/enable"
        | "/v1/users/{id}/devices"
        | "/v1/users/{id}/sessions"
        | "/v1/users/{id}/sessions/revoke"
        | "/v1/users/{id}/export" => &other.user_id,
        unknown => panic!(
            "{unknown} takes an id: add the other tenant's object it names to cross_tenant.rs"
        ),
    }
}

struct OtherTenant {
    secret_key: String,
    key_id: String,
    key_prefix: String,
    device_id: String,
    user_id: String,
}

/// A second tenant with a key, a user and their bound device, made through the operator API.
async fn other_tenant(app: &TestApp) -> OtherTenant {
    let created = app.create_tenant(&app.unique_tenant_id()).await;
    let secret_key = secret_of(&created, "secret");
    let key = created["api_keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["kind"] == "secret"))
        .expect("a secret key")
        .clone();
    let publishable = secret_of(&created, "publishable");
    let email = app.unique_email();
    let started = app
        .post(
            "/v1/auth/start",
            Some(&publishable),
            json!({"identifier": email}),
        )
        .await;
    let started: Value = started.json().await.expect("JSON");
    let code = app.code_sent_to(&email).await;
    let signed_in: Value = app
        .post(
            "/v1/auth/verify",
            Some(&publishable),
            json!({"challenge_id": started["challenge_id"], "code": code}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let bound: Value = app
        .http
        .post(app.url("/v1/devices"))
        .header("x-api-key", &publishable)
        .bearer_auth(
            signed_in["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("signed in: {signed_in}")),
        )
        .json(&json!({"fingerprint": {"platform": "Linux"}, "name": "theirs"}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    OtherTenant {
        secret_key,
        key_id: key["id"].as_str().expect("an id").to_owned(),
        key_prefix: key["prefix"].as_str().expect("a prefix").to_owned(),
        device_id: bound["device_id"].as_str().expect("a device").to_owned(),
        user_id: signed_in["user_id"].as_str().expect("a user").to_owned(),
    }
}

#[tokio::test]
async fn another_tenants_ids_answer_404_never_data_for_every_operation_that_takes_one() {
    for_each_backend(|app: TestApp| async move {
        let other = other_tenant(&app).await;
        let own_token = app.sign_in(&app.unique_email()).await["access_token"]
            .as_str()
            .expect("a token")
            .to_owned();
        let document = serde_json::to_value(authkit_api::openapi::document()).expect("JSON");
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().expect("paths") {
            if !path.starts_with("/v1/") || !path.contains('{') {
                continue;
            }
            let id = other_tenants_id(path, &other);
            let url = app.url(&path.replace("{id}", id));
            for method in ["get", "post", "patch", "delete"] {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let method =
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
                let mut request = app
                    .http
                    .request(method.clone(), &url)
                    .header("x-api-key", &app.secret_key)
                    .bearer_auth(&own_token)
                    .header("idempotency-key", idempotency_key());
                if operation.get("requestBody").is_some() {
                    request = request.json(&json!({}));
                }
                let response = request.send().await.expect("the server answers");
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                assert_eq!(
                    status, 404,
                    "{method} {path} with the other tenant's id: {body}"
                );
                for theirs in [
                    &other.key_id,
                    &other.key_prefix,
                    &other.device_id,
                    &other.user_id,
                ] {
                    assert!(
                        !body.contains(theirs.as_str()),
                        "{method} {path} answered with {theirs}: {body}"
                    );
                }
                checked += 1;
            }
        }
        assert!(
            checked >= 4,
            "the operations that take ids were found: {checked}"
        );

        let own_keys = app
            .tenant_api(Method::GET, "/v1/api_keys?limit=100", &app.secret_key)
            .send()
            .await
            .expect("answers")
            .text()
            .await
            .expect("text");
        assert!(
            !own_keys.contains(&other.key_id),
            "listings hold no other tenant's keys"
        );
        let theirs_still_works = app
            .tenant_api(Method::GET, "/v1/tenant", &other.secret_key)
            .send()
            .await
            .expect("answers");
        assert_eq!(
            theirs_still_works.status(),
            200,
            "nothing of theirs was revoked or rotated"
        );
    })
    .await;
}
