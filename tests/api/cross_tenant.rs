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
        "/v1/members/{id}" => &other.member_id,
        "/v1/invitations/{id}" => &other.invitation_id,
        // A console user leaving a tenant: the other tenant, which they are not on.
        "/v1/memberships/{tenant}" => &other.id,
        unknown => panic!(
            "{unknown} takes an id: add the other tenant's object it names to cross_tenant.rs"
        ),
    }
}

struct OtherTenant {
    id: String,
    secret_key: String,
    key_id: String,
    key_prefix: String,
    device_id: String,
    user_id: String,
    member_id: String,
    invitation_id: String,
}

/// A second tenant with a key, a user and their bound device, a member and a pending
/// invitation, made through the operator API.
async fn other_tenant(app: &TestApp, console_key: &str) -> OtherTenant {
    let id = app.unique_tenant_id();
    let created = app.create_tenant(&id).await;
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
    let (_, member_id) = app.member_of(console_key, &secret_key, "owner").await;
    let invited: Value = app
        .tenant_api(Method::POST, "/v1/members", &secret_key)
        .json(&json!({"email": app.unique_email(), "role": "viewer"}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    OtherTenant {
        id,
        member_id,
        invitation_id: invited["id"].as_str().expect("an invitation").to_owned(),
        secret_key,
        key_id: key["id"].as_str().expect("an id").to_owned(),
        key_prefix: key["prefix"].as_str().expect("a prefix").to_owned(),
        device_id: bound["device_id"].as_str().expect("a device").to_owned(),
        user_id: signed_in["user_id"].as_str().expect("a user").to_owned(),
    }
}

/// A body the operation accepts, so that what is judged is the id.
fn body_for(path: &str) -> Value {
    match path {
        "/v1/members/{id}" => json!({"role": "viewer"}),
        _ => json!({}),
    }
}

fn assert_none_of_theirs(other: &OtherTenant, call: &str, body: &str) {
    for theirs in [
        &other.key_id,
        &other.key_prefix,
        &other.device_id,
        &other.user_id,
        &other.member_id,
        &other.invitation_id,
    ] {
        assert!(
            !body.contains(theirs.as_str()),
            "{call} answered with {theirs}: {body}"
        );
    }
}

#[tokio::test]
async fn another_tenants_ids_answer_404_never_data_for_every_operation_that_takes_one() {
    for_each_backend(|app: TestApp| async move {
        let console = app
            .bootstrap_console()
            .await
            .expect("a new console tenant")
            .publishable;
        let other = other_tenant(&app, &console).await;
        let own_token = app.sign_in(&app.unique_email()).await["access_token"]
            .as_str()
            .expect("a token")
            .to_owned();
        let (member_token, _) = app.member_of(&console, &app.secret_key, "owner").await;
        let document = serde_json::to_value(authkit_api::openapi::document()).expect("JSON");
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().expect("paths") {
            if !path.starts_with("/v1/") || !path.contains('{') {
                continue;
            }
            let id = other_tenants_id(path, &other);
            let url = app.url(&path.replace("{id}", id).replace("{tenant}", id));
            // The console user's own routes take their console token, nothing else.
            let console_route = path.starts_with("/v1/memberships/");
            for method in ["get", "post", "patch", "delete"] {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let method =
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
                let mut request = app
                    .http
                    .request(method.clone(), &url)
                    .header("idempotency-key", idempotency_key());
                request = if console_route {
                    request.bearer_auth(&member_token)
                } else {
                    request
                        .header("x-api-key", &app.secret_key)
                        .bearer_auth(&own_token)
                };
                if operation.get("requestBody").is_some() {
                    request = request.json(&body_for(path));
                }
                let response = request.send().await.expect("the server answers");
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                assert_eq!(
                    status, 404,
                    "{method} {path} with the other tenant's id: {body}"
                );
                assert_none_of_theirs(&other, &format!("{method} {path}"), &body);
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

/// The same for members, with each role: the other tenant's ids answer 404 for every
/// operation the role covers, and every operation it does not cover answers 403
/// `role_forbidden`, id or not; naming the other tenant itself finds nothing.
#[tokio::test]
async fn a_member_reaches_only_their_tenant_and_only_within_their_role() {
    use authkit_domain::member::Role;
    for_each_backend(|app: TestApp| async move {
        let console = app
            .bootstrap_console()
            .await
            .expect("a new console tenant")
            .publishable;
        let other = other_tenant(&app, &console).await;
        let document = serde_json::to_value(authkit_api::openapi::document()).expect("JSON");
        for role in Role::ALL {
            let (token, _) = app
                .member_of(&console, &app.secret_key, role.as_str())
                .await;
            let (mut refused, mut not_found) = (0, 0);
            for (path, item) in document["paths"].as_object().expect("paths") {
                for method in ["get", "post", "patch", "delete"] {
                    let Some(operation) = item.get(method) else {
                        continue;
                    };
                    let method =
                        Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
                    let Some(needs) = authkit_api::operation(&method, path) else {
                        continue;
                    };
                    let allowed = role.allows(needs);
                    if allowed && !path.contains('{') {
                        continue;
                    }
                    let url = path.replace("{id}", other_tenants_id_or_none(path, &other));
                    let mut request = app
                        .as_member(method.clone(), &url, &token, &app.tenant)
                        .header("idempotency-key", idempotency_key());
                    if operation.get("requestBody").is_some() {
                        request = request.json(&body_for(path));
                    }
                    let response = request.send().await.expect("the server answers");
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    let call = format!("{} {method} {path}", role.as_str());
                    if allowed {
                        assert_eq!(status, 404, "{call} with the other tenant's id: {body}");
                        not_found += 1;
                    } else {
                        assert_eq!(status, 403, "{call}: {body}");
                        assert!(body.contains("role_forbidden"), "{call}: {body}");
                        refused += 1;
                    }
                    assert_none_of_theirs(&other, &call, &body);
                }
            }
            assert!(
                not_found >= 4,
                "{}: {not_found} operations with ids",
                role.as_str()
            );
            if role != Role::Owner {
                assert!(
                    refused >= 1,
                    "{}: something is outside the role",
                    role.as_str()
                );
            }
            let theirs = app
                .as_member(Method::GET, "/v1/tenant", &token, &other.id)
                .send()
                .await
                .expect("answers");
            assert_eq!(
                theirs.status(),
                404,
                "naming the other tenant finds nothing"
            );
        }
    })
    .await;
}

fn other_tenants_id_or_none<'a>(path: &str, other: &'a OtherTenant) -> &'a str {
    if path.contains('{') {
        other_tenants_id(path, other)
    } else {
        ""
    }
}
