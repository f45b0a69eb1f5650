//! Tenants as a service over HTTP, on both backends: the operator API's lifecycle, the
//! tenant API's settings and keys, and who may use a key from where.

use authkit_tests::operator::{idempotency_key, secret_of, text};
use authkit_tests::{for_each_backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body = text(response).await;
    assert_eq!(actual, status, "{body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn start_with(app: &TestApp, key: &str) -> reqwest::Response {
    app.post(
        "/v1/auth/start",
        Some(key),
        json!({"identifier": app.unique_email()}),
    )
    .await
}

#[tokio::test]
async fn operators_create_list_change_suspend_reactivate_and_delete_tenants() {
    for_each_backend(|app: TestApp| async move {
        let id = app.unique_tenant_id();
        let created = app.create_tenant(&id).await;
        assert_eq!(created["object"], "tenant");
        assert_eq!(created["id"], id.as_str());
        assert_eq!(created["status"], "active");
        assert_eq!(
            created["allowed_origins"],
            json!([]),
            "new tenants start with an explicit list"
        );
        assert!(created["created_at"].is_i64());
        let publishable = secret_of(&created, "publishable");
        let secret = secret_of(&created, "secret");
        assert!(publishable.starts_with("ak_pub_") && secret.starts_with("ak_sec_"));
        assert_eq!(
            start_with(&app, &publishable).await.status(),
            200,
            "its keys work at once on the running server"
        );

        let got = app
            .admin(Method::GET, &format!("/admin/v1/tenants/{id}"))
            .send()
            .await
            .unwrap();
        let etag = got.headers()["etag"].to_str().unwrap().to_owned();
        let got = json_of(got, 200).await;
        assert!(
            got.get("api_keys").is_none(),
            "keys are shown once, at creation"
        );
        assert_eq!(etag, format!("\"{}\"", got["revision"]));

        // Listing: a page of one after the test app's own tenant finds … some tenant, and
        // walking the cursor from the start finds this one.
        let mut after: Option<String> = None;
        let mut found = false;
        for _ in 0..1_000 {
            let path = match &after {
                Some(after) => format!("/admin/v1/tenants?limit=100&starting_after={after}"),
                None => "/admin/v1/tenants?limit=100".to_owned(),
            };
            let page = json_of(app.admin(Method::GET, &path).send().await.unwrap(), 200).await;
            assert_eq!(page["object"], "list");
            let data = page["data"].as_array().unwrap();
            found |= data.iter().any(|tenant| tenant["id"] == id.as_str());
            after = data
                .last()
                .and_then(|t| t["id"].as_str())
                .map(str::to_owned);
            if page["has_more"] == false {
                break;
            }
        }
        assert!(found, "the new tenant is listed");

        let changed = app
            .admin(Method::PATCH, &format!("/admin/v1/tenants/{id}"))
            .header("if-match", &etag)
            .json(&json!({"name": "Renamed", "allowed_origins": ["https://app.example.com"]}))
            .send()
            .await
            .unwrap();
        let changed = json_of(changed, 200).await;
        assert_eq!(changed["name"], "Renamed");
        let stale = app
            .admin(Method::PATCH, &format!("/admin/v1/tenants/{id}"))
            .header("if-match", &etag)
            .json(&json!({"name": "Lost update"}))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(stale, 412).await["code"], "precondition_failed");
        // A body that is wrong is refused as such, whatever If-Match says (schemathesis
        // found an empty If-Match with a wrong body answered 412).
        let wrong = app
            .admin(Method::PATCH, &format!("/admin/v1/tenants/{id}"))
            .header("if-match", "")
            .json(&json!([null, null]))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 400);
        let wrong = app
            .admin(Method::PATCH, &format!("/admin/v1/tenants/{id}"))
            .header("if-match", &etag)
            .json(&json!({"policy": {"resend_cooldown_secs": -1}}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 400, "a wrong value over a stale ETag");

        let suspended = app
            .admin(Method::POST, &format!("/admin/v1/tenants/{id}/suspend"))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(suspended, 200).await["status"], "suspended");
        let refused = json_of(start_with(&app, &publishable).await, 403).await;
        assert_eq!(refused["code"], "tenant_suspended");
        let refused = app
            .tenant_api(Method::GET, "/v1/tenant", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(refused, 403).await["code"], "tenant_suspended");

        let reactivated = app
            .admin(Method::POST, &format!("/admin/v1/tenants/{id}/reactivate"))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(reactivated, 200).await["status"], "active");
        assert_eq!(start_with(&app, &publishable).await.status(), 200);

        let deleted = app
            .admin(Method::DELETE, &format!("/admin/v1/tenants/{id}"))
            .send()
            .await
            .unwrap();
        let deleted = json_of(deleted, 200).await;
        assert_eq!(deleted["status"], "deleted");
        assert!(deleted["purge_at"].as_i64().unwrap() > deleted["updated_at"].as_i64().unwrap());
        assert_eq!(
            json_of(start_with(&app, &publishable).await, 401).await["code"],
            "invalid_api_key"
        );
        let gone = app
            .admin(Method::GET, &format!("/admin/v1/tenants/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(gone, 404).await["code"], "tenant_not_found");
        let again = app
            .admin(Method::POST, "/admin/v1/tenants")
            .header("idempotency-key", idempotency_key())
            .json(&json!({"id": id, "name": "Again"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(again, 409).await["code"],
            "tenant_exists",
            "a deleted tenant's id is never reused"
        );
    })
    .await;
}

#[tokio::test]
async fn a_retried_creation_gets_the_same_tenant_and_keys_and_a_reused_key_is_refused() {
    for_each_backend(|app: TestApp| async move {
        let id = app.unique_tenant_id();
        let key = idempotency_key();
        let create = |id: String| {
            app.admin(Method::POST, "/admin/v1/tenants")
                .header("idempotency-key", &key)
                .json(&json!({"id": id, "name": "Retried"}))
                .send()
        };
        let first = json_of(create(id.clone()).await.unwrap(), 201).await;
        let retried = json_of(create(id.clone()).await.unwrap(), 201).await;
        assert_eq!(
            first["api_keys"], retried["api_keys"],
            "the same keys, secrets included"
        );
        let keys = app
            .admin(Method::GET, &format!("/admin/v1/tenants/{id}/api_keys"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(keys, 200).await["data"].as_array().unwrap().len(),
            2,
            "no second pair"
        );
        let other = json_of(create(app.unique_tenant_id()).await.unwrap(), 422).await;
        assert_eq!(other["code"], "idempotency_key_reused");
        let without = app
            .admin(Method::POST, "/admin/v1/tenants")
            .json(&json!({"id": app.unique_tenant_id(), "name": "No key"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(without, 400).await["code"],
            "invalid_idempotency_key"
        );
        let wrong = app
            .admin(Method::POST, "/admin/v1/tenants")
            .header("idempotency-key", idempotency_key())
            .json(
                &json!({"id": app.unique_tenant_id(), "name": "Bad", "policy": {"code_length": 3}}),
            )
            .send()
            .await
            .unwrap();
        let wrong = json_of(wrong, 400).await;
        assert_eq!(wrong["code"], "invalid_setting");
        assert_eq!(wrong["errors"][0]["pointer"], "#/policy/code_length");
    })
    .await;
}

#[tokio::test]
async fn operator_routes_need_the_operator_token() {
    let app = TestApp::spawn(authkit_tests::Backend::Embedded).await;
    for token in [None, Some("akop_wrong"), Some(app.secret_key.as_str())] {
        let mut request = app.http.get(app.url("/admin/v1/tenants"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let refused = json_of(request.send().await.unwrap(), 401).await;
        assert_eq!(refused["code"], "operator_unauthorized", "{token:?}");
    }
    let by_key = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .header("x-api-key", &app.secret_key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_key.status(), 401, "a tenant's secret key is no operator");
}

#[tokio::test]
async fn tenant_settings_are_read_and_changed_under_their_etag_and_wrong_fields_are_named() {
    for_each_backend(|app: TestApp| async move {
        let read = app
            .tenant_api(Method::GET, "/v1/tenant", &app.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(read.headers()["cache-control"], "no-store");
        let etag = read.headers()["etag"].to_str().unwrap().to_owned();
        let tenant = json_of(read, 200).await;
        assert_eq!(tenant["id"], app.tenant.as_str());
        let by_publishable = app
            .tenant_api(Method::GET, "/v1/tenant", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(by_publishable, 403).await["code"],
            "secret_key_required"
        );

        let patch = |body: Value, etag: Option<&str>| {
            let mut request = app
                .tenant_api(Method::PATCH, "/v1/tenant", &app.secret_key)
                .header("content-type", "application/merge-patch+json")
                .body(body.to_string());
            if let Some(etag) = etag {
                request = request.header("if-match", etag);
            }
            request.send()
        };
        let changed = patch(
            json!({"policy": {"code_length": 8}, "enabled_channels": ["email"]}),
            Some(&etag),
        )
        .await
        .unwrap();
        let new_etag = changed.headers()["etag"].to_str().unwrap().to_owned();
        let changed = json_of(changed, 200).await;
        assert_eq!(changed["policy"]["code_length"], 8);
        assert_eq!(changed["policy"]["max_attempts"], 5, "a patch merges");
        assert_ne!(new_etag, etag);
        let started = app.start(&app.unique_email()).await;
        assert_eq!(started["channel"], "email");
        let sms = app
            .post(
                "/v1/auth/start",
                Some(&app.publishable_key),
                json!({"identifier": app.unique_phone()}),
            )
            .await;
        assert_eq!(json_of(sms, 400).await["code"], "channel_disabled");

        let lost = patch(json!({"name": "Lost"}), Some(&etag)).await.unwrap();
        assert_eq!(json_of(lost, 412).await["code"], "precondition_failed");
        for (body, pointer) in [
            (
                json!({"policy": {"challenge_ttl_secs": 5}}),
                "#/policy/challenge_ttl_secs",
            ),
            (
                json!({"allowed_origins": ["https://ok.example", "not an origin"]}),
                "#/allowed_origins/1",
            ),
            (json!({"ip_allowlist": ["10.0.0.0/40"]}), "#/ip_allowlist/0"),
            (json!({"colour": "blue"}), "#/colour"),
            (
                json!({"policy": {"max_attempts": "five"}}),
                "#/policy/max_attempts",
            ),
        ] {
            let refused = json_of(patch(body.clone(), None).await.unwrap(), 400).await;
            assert_eq!(refused["code"], "invalid_setting", "{body}");
            assert_eq!(
                refused["errors"][0]["pointer"], pointer,
                "{body}: {refused}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn keys_are_listed_created_rotated_with_an_overlap_and_revoked() {
    for_each_backend(|app: TestApp| async move {
        let secret = app.secret_key.clone();
        let listed = json_of(
            app.tenant_api(Method::GET, "/v1/api_keys", &secret)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        let keys = listed["data"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for key in keys {
            assert_eq!(key["object"], "api_key");
            assert!(key.get("secret").is_none(), "secrets are never listed");
            let prefix = key["prefix"].as_str().unwrap();
            assert!(prefix.starts_with("ak_pub_") || prefix.starts_with("ak_sec_"));
            assert!(secret.starts_with(prefix) || app.publishable_key.starts_with(prefix));
        }
        let own = keys
            .iter()
            .find(|key| secret.starts_with(key["prefix"].as_str().unwrap()))
            .unwrap();
        // Noted beside the request, not in its path (decision 116): visible shortly after.
        let mut noted = own["last_used_at"].is_i64();
        for _ in 0..100 {
            if noted {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let again = json_of(
                app.tenant_api(Method::GET, "/v1/api_keys", &secret)
                    .send()
                    .await
                    .unwrap(),
                200,
            )
            .await;
            noted = again["data"].as_array().unwrap().iter().any(|key| {
                secret.starts_with(key["prefix"].as_str().unwrap()) && key["last_used_at"].is_i64()
            });
        }
        assert!(noted, "the calling key's use is noted: {own}");
        let own_id = own["id"].as_str().unwrap().to_owned();

        let key = idempotency_key();
        let create = || {
            app.tenant_api(Method::POST, "/v1/api_keys", &secret)
                .header("idempotency-key", &key)
                .json(&json!({"kind": "publishable"}))
                .send()
        };
        let created = json_of(create().await.unwrap(), 201).await;
        let again = json_of(create().await.unwrap(), 201).await;
        assert_eq!(
            created["secret"], again["secret"],
            "a retry shows the same key"
        );
        assert_eq!(created["id"], again["id"]);
        let new_publishable = created["secret"].as_str().unwrap().to_owned();
        assert_eq!(start_with(&app, &new_publishable).await.status(), 200);
        let missing = app
            .tenant_api(Method::POST, "/v1/api_keys", &secret)
            .json(&json!({"kind": "secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(missing, 400).await["code"],
            "invalid_idempotency_key"
        );

        let rotated = app
            .tenant_api(
                Method::POST,
                &format!("/v1/api_keys/{own_id}/rotate"),
                &secret,
            )
            .header("idempotency-key", idempotency_key())
            .json(&json!({"expires_in_secs": 3600}))
            .send()
            .await
            .unwrap();
        let rotated = json_of(rotated, 201).await;
        assert_eq!(rotated["kind"], "secret");
        assert_eq!(rotated["replaces"]["id"], own_id.as_str());
        let overlap_end = rotated["replaces"]["expires_at"].as_i64().unwrap();
        assert!((rotated["created_at"].as_i64().unwrap() + 3600 - overlap_end).abs() <= 2);
        let new_secret = rotated["secret"].as_str().unwrap().to_owned();
        let old_still = app
            .tenant_api(Method::GET, "/v1/tenant", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(
            old_still.status(),
            200,
            "the old key works through the overlap"
        );
        let new_works = app
            .tenant_api(Method::GET, "/v1/tenant", &new_secret)
            .send()
            .await
            .unwrap();
        assert_eq!(new_works.status(), 200);
        let listed = json_of(
            app.tenant_api(Method::GET, &format!("/v1/api_keys/{own_id}"), &new_secret)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(listed["expires_at"], overlap_end);

        let cut = app
            .tenant_api(
                Method::POST,
                &format!("/v1/api_keys/{own_id}/rotate"),
                &new_secret,
            )
            .header("idempotency-key", idempotency_key())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            cut.status(),
            201,
            "an expiring key can be rotated again: {}",
            text(cut).await
        );

        let revoked = app
            .tenant_api(
                Method::POST,
                &format!("/v1/api_keys/{own_id}/revoke"),
                &new_secret,
            )
            .send()
            .await
            .unwrap();
        let revoked = json_of(revoked, 200).await;
        assert!(revoked["revoked_at"].is_i64());
        assert_eq!(
            revoked["revocation_takes_effect_within_secs"], 30,
            "the cache bound (AUTHKIT_TENANT_CACHE_SECS)"
        );
        let refused = app
            .tenant_api(Method::GET, "/v1/tenant", &secret)
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(refused, 401).await["code"], "invalid_api_key");
        let page = json_of(
            app.tenant_api(Method::GET, "/v1/api_keys?limit=2", &new_secret)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        assert_eq!(page["has_more"], true);
        let last = page["data"][1]["id"].as_str().unwrap();
        let next = json_of(
            app.tenant_api(
                Method::GET,
                &format!("/v1/api_keys?limit=10&starting_after={last}"),
                &new_secret,
            )
            .send()
            .await
            .unwrap(),
            200,
        )
        .await;
        assert!(!next["data"].as_array().unwrap().is_empty());
        assert!(
            next["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k["id"].as_str().unwrap() < last),
            "newest first, strictly after the cursor"
        );
    })
    .await;
}

#[tokio::test]
async fn browsers_use_the_publishable_key_from_listed_origins_only_and_preflight_is_generic() {
    for_each_backend(|app: TestApp| async move {
        let preflight = app
            .http
            .request(Method::OPTIONS, app.url("/v1/auth/start"))
            .header("origin", "https://anyone.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-api-key")
            .send()
            .await
            .unwrap();
        assert_eq!(
            preflight.status(),
            204,
            "a preflight carries no key: answered alike for all"
        );
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "https://anyone.example"
        );
        assert!(preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-api-key"));

        let patched = app
            .tenant_api(Method::PATCH, "/v1/tenant", &app.secret_key)
            .json(&json!({"allowed_origins": ["https://app.example.com"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200);
        let from = |origin: &'static str| {
            app.http
                .post(app.url("/v1/auth/start"))
                .header("x-api-key", &app.publishable_key)
                .header("origin", origin)
                .json(&json!({"identifier": app.unique_email()}))
                .send()
        };
        let allowed = from("https://app.example.com").await.unwrap();
        assert_eq!(allowed.status(), 200);
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert!(allowed
            .headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("origin")));
        let refused = from("https://evil.example").await.unwrap();
        assert!(refused
            .headers()
            .get("access-control-allow-origin")
            .is_none());
        assert_eq!(json_of(refused, 403).await["code"], "origin_not_allowed");
        let no_origin = start_with(&app, &app.publishable_key).await;
        assert_eq!(no_origin.status(), 200, "apps and servers send no Origin");
        assert!(no_origin
            .headers()
            .get("access-control-allow-origin")
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn secret_key_calls_from_outside_the_ip_allowlist_are_refused() {
    for_each_backend(|app: TestApp| async move {
        let patched = app
            .tenant_api(Method::PATCH, "/v1/tenant", &app.secret_key)
            .json(&json!({"ip_allowlist": ["203.0.113.0/24"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200);
        let refused = app
            .tenant_api(Method::GET, "/v1/tenant", &app.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(refused, 403).await["code"], "ip_not_allowed");
        assert_eq!(
            start_with(&app, &app.publishable_key).await.status(),
            200,
            "publishable keys are not bound to addresses"
        );
        let fixed = app
            .admin(Method::PATCH, &format!("/admin/v1/tenants/{}", app.tenant))
            .json(&json!({"ip_allowlist": ["127.0.0.0/8", "::1/128"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(fixed.status(), 200, "the operator can always fix it");
        let allowed = app
            .tenant_api(Method::GET, "/v1/tenant", &app.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_suspended_tenants_refreshes_are_refused_too() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let suspended = app
            .admin(
                Method::POST,
                &format!("/admin/v1/tenants/{}/suspend", app.tenant),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(suspended.status(), 200);
        let refresh = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": signed_in["refresh_token"]}),
            )
            .await;
        assert_eq!(json_of(refresh, 403).await["code"], "tenant_suspended");
        let link_page = app
            .http
            .get(app.url(&format!(
                "/v1/auth/link?tenant={}&challenge_id=ch_{}&token=x",
                app.tenant,
                "0".repeat(32)
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(
            link_page.status(),
            403,
            "a magic link of a suspended tenant is refused"
        );
    })
    .await;
}
