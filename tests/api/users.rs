//! The tenant's server API over HTTP (secret key): users found, read, disabled and enabled,
//! their sessions revoked, exported and erased, and the audit log read in pages and
//! exported — on both backends, and never across tenants.

use std::time::Duration;

use authkit_tests::{emulator_endpoint, for_each_backend, Backend, TestApp};
use serde_json::{json, Value};

use crate::events::run_events_consumer;

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("x-api-key", key)
        .send()
        .await
        .expect("the server answers")
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = get(app, &app.secret_key, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

async fn post_secret(app: &TestApp, path: &str) -> reqwest::Response {
    app.post(path, Some(&app.secret_key), json!({})).await
}

/// Every event recorded so far, in the audit log: the local server delivers them itself
/// within milliseconds; in the emulator the real events function is handed the stream.
pub(crate) async fn deliver_events(app: &TestApp) {
    match app.backend {
        Backend::Embedded => tokio::time::sleep(Duration::from_millis(300)).await,
        Backend::Emulator => {
            let endpoint = emulator_endpoint().expect("the emulator");
            run_events_consumer(app, &endpoint).await;
        }
    }
}

async fn refresh(app: &TestApp, refresh_token: &Value) -> reqwest::Response {
    app.post(
        "/v1/token/refresh",
        Some(&app.publishable_key),
        json!({"refresh_token": refresh_token}),
    )
    .await
}

#[tokio::test]
async fn a_tenants_server_finds_a_user_by_identifier_and_reads_their_sessions_and_devices() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let signed_in = app.sign_in(&email).await;
        let user_id = signed_in["user_id"].as_str().unwrap();

        let found = get_json(
            &app,
            &format!(
                "/v1/users?identifier={}",
                email.to_uppercase().replace('+', "%2B")
            ),
        )
        .await;
        assert_eq!(
            found["id"], user_id,
            "an address in another case finds the same user"
        );
        assert_eq!(found["object"], "user");
        assert_eq!(found["identifier"], email);
        assert_eq!(found["disabled_at"], Value::Null);
        assert_eq!(get_json(&app, &format!("/v1/users/{user_id}")).await, found);

        let sessions = get_json(&app, &format!("/v1/users/{user_id}/sessions")).await;
        assert_eq!(sessions["object"], "list");
        let data = sessions["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{sessions}");
        assert_eq!(data[0]["object"], "session");
        assert_eq!(data[0]["amr"], json!(["otp", "email"]));
        assert_eq!(data[0]["revoked_at"], Value::Null);
        let devices = get_json(&app, &format!("/v1/users/{user_id}/devices")).await;
        assert_eq!(devices["data"], json!([]));

        let unknown = get(
            &app,
            &app.secret_key,
            "/v1/users?identifier=nobody%40example.com",
        )
        .await;
        assert_eq!(unknown.status(), 404);
        assert_eq!(
            unknown.json::<Value>().await.unwrap()["code"],
            "user_not_found"
        );
        let by_publishable_key =
            get(&app, &app.publishable_key, &format!("/v1/users/{user_id}")).await;
        assert_eq!(by_publishable_key.status(), 403);
        assert_eq!(
            by_publishable_key.json::<Value>().await.unwrap()["code"],
            "secret_key_required"
        );
    })
    .await;
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_everywhere_and_cannot_sign_in_until_enabled() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let signed_in = app.sign_in(&email).await;
        let user_id = signed_in["user_id"].as_str().unwrap();

        let disabled = post_secret(&app, &format!("/v1/users/{user_id}/disable")).await;
        assert_eq!(disabled.status(), 200);
        let disabled: Value = disabled.json().await.unwrap();
        assert!(disabled["disabled_at"].is_i64(), "{disabled}");

        assert_eq!(
            refresh(&app, &signed_in["refresh_token"]).await.status(),
            401,
            "the session's refresh token is revoked"
        );
        let introspected = app
            .http
            .post(app.url("/v1/token/introspect"))
            .header("x-api-key", &app.secret_key)
            .json(&json!({"token": signed_in["access_token"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            introspected.json::<Value>().await.unwrap(),
            json!({"active": false})
        );
        let sessions = get_json(&app, &format!("/v1/users/{user_id}/sessions")).await;
        assert!(sessions["data"][0]["revoked_at"].is_i64(), "{sessions}");

        // A start looks like any other (nothing tells a stranger the account exists);
        // only the person holding the code learns it is disabled, and gets no session.
        let started = app.start(&email).await;
        let code = app.code_sent_to(&email).await;
        let refused = app
            .verify_code(started["challenge_id"].as_str().unwrap(), &code)
            .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(
            refused.json::<Value>().await.unwrap()["code"],
            "user_disabled"
        );
        let sessions = get_json(&app, &format!("/v1/users/{user_id}/sessions")).await;
        assert_eq!(
            sessions["data"].as_array().unwrap().len(),
            1,
            "no new session"
        );

        let enabled = post_secret(&app, &format!("/v1/users/{user_id}/enable")).await;
        assert_eq!(enabled.status(), 200);
        assert_eq!(
            enabled.json::<Value>().await.unwrap()["disabled_at"],
            Value::Null
        );
        let again = app.sign_in(&email).await;
        assert_eq!(again["user_id"], user_id, "the same user signs in again");
        assert_eq!(refresh(&app, &again["refresh_token"]).await.status(), 200);

        let revoked = post_secret(&app, &format!("/v1/users/{user_id}/sessions/revoke")).await;
        assert_eq!(revoked.status(), 200);
        assert_eq!(revoked.json::<Value>().await.unwrap()["revoked"], 1);
        assert_eq!(refresh(&app, &again["refresh_token"]).await.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn another_tenants_secret_key_finds_none_of_this_tenants_users() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let signed_in = app.sign_in(&email).await;
        let user_id = signed_in["user_id"].as_str().unwrap();
        let other = app
            .authkit
            .create_tenant(authkit_domain::service::NewTenant {
                id: authkit_domain::tenant::TenantId::parse(&format!("{}-b", app.tenant)).unwrap(),
                name: "Tenant B".into(),
                allowed_redirect_uris: vec![app.redirect_uri.clone()],
                policy: Default::default(),
            })
            .await
            .expect("a second tenant");
        let other_key = other.secret_key.reveal();

        let encoded = email.replace('+', "%2B");
        let reads = [
            format!("/v1/users?identifier={encoded}"),
            format!("/v1/users/{user_id}"),
            format!("/v1/users/{user_id}/devices"),
            format!("/v1/users/{user_id}/sessions"),
            format!("/v1/users/{user_id}/export"),
        ];
        for path in &reads {
            let response = get(&app, &other_key, path).await;
            assert_eq!(response.status(), 404, "GET {path}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "user_not_found", "GET {path}: {body}");
        }
        for path in ["disable", "enable", "sessions/revoke"] {
            let path = format!("/v1/users/{user_id}/{path}");
            let response = app.post(&path, Some(&other_key), json!({})).await;
            assert_eq!(response.status(), 404, "POST {path}");
        }
        let erase = app
            .http
            .delete(app.url(&format!("/v1/users/{user_id}")))
            .header("x-api-key", &other_key)
            .send()
            .await
            .unwrap();
        assert_eq!(erase.status(), 404);
        deliver_events(&app).await;
        let log = get(
            &app,
            &other_key,
            &format!("/v1/audit-events?user_id={user_id}"),
        )
        .await;
        assert_eq!(log.json::<Value>().await.unwrap()["data"], json!([]));

        // Nothing changed for the user's own tenant.
        assert_eq!(
            refresh(&app, &signed_in["refresh_token"]).await.status(),
            200
        );
        let user = get_json(&app, &format!("/v1/users/{user_id}")).await;
        assert_eq!(user["disabled_at"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_pages_filters_and_exports_masked_entries_newest_first() {
    for_each_backend(|app: TestApp| async move {
        let (first, second) = (app.unique_email(), app.unique_email());
        let alice = app.sign_in(&first).await;
        app.sign_in(&second).await;
        deliver_events(&app).await;

        // The tenant's creation, and per sign-in: challenge started and verified, user
        // created, session opened.
        let everything = get_json(&app, "/v1/audit-events?limit=100").await;
        let all = everything["data"].as_array().unwrap().clone();
        assert_eq!(all.len(), 9, "{everything}");
        assert_eq!(
            all.iter().filter(|e| e["kind"] == "tenant_created").count(),
            1,
            "{everything}"
        );
        assert!(
            all.windows(2)
                .all(|w| w[0]["at"].as_i64() >= w[1]["at"].as_i64()),
            "newest first"
        );
        let local_part = first.split('@').next().unwrap();
        assert!(
            !everything.to_string().contains(local_part),
            "identifiers are masked"
        );

        let mut paged = Vec::new();
        let mut path = "/v1/audit-events?limit=3".to_owned();
        loop {
            let page = get_json(&app, &path).await;
            paged.extend(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].clone()),
            );
            if page["has_more"] != true {
                assert_eq!(page["next_cursor"], Value::Null);
                break;
            }
            let cursor = page["next_cursor"].as_str().unwrap();
            path = format!(
                "/v1/audit-events?limit=3&starting_after={}",
                cursor.replace('#', "%23")
            );
        }
        let ids: Vec<Value> = all.iter().map(|e| e["id"].clone()).collect();
        assert_eq!(paged, ids, "the pages hold every entry once, in order");

        let created = get_json(&app, "/v1/audit-events?kind=user_created").await;
        assert_eq!(created["data"].as_array().unwrap().len(), 2);
        let alices = get_json(
            &app,
            &format!(
                "/v1/audit-events?user_id={}",
                alice["user_id"].as_str().unwrap()
            ),
        )
        .await;
        let kinds: Vec<&str> = alices["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"user_created") && kinds.contains(&"session_opened"),
            "{kinds:?}"
        );
        let future = get_json(&app, "/v1/audit-events?from=4102444800").await;
        assert_eq!(future["data"], json!([]));
        let bad = get(&app, &app.secret_key, "/v1/audit-events?kind=no_such_kind").await;
        assert_eq!(bad.status(), 400);
        assert_eq!(
            bad.json::<Value>().await.unwrap()["code"],
            "invalid_parameter"
        );

        let now = all[0]["at"].as_i64().unwrap();
        let export = get(
            &app,
            &app.secret_key,
            &format!(
                "/v1/audit-events/export?from={}&to={}",
                now - 3600,
                now + 60
            ),
        )
        .await;
        assert_eq!(export.status(), 200);
        assert_eq!(export.headers()["content-type"], "application/x-ndjson");
        let text = export.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON object a line"))
            .collect();
        assert_eq!(
            lines.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
            ids,
            "the export holds the range, newest first"
        );
        let missing_range = get(&app, &app.secret_key, "/v1/audit-events/export?from=1").await;
        assert_eq!(missing_range.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn a_user_is_exported_whole_then_erased_leaving_only_pseudonymised_audit_entries() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let signed_in = app.sign_in(&email).await;
        let user_id = signed_in["user_id"].as_str().unwrap().to_owned();
        deliver_events(&app).await;

        let export = get_json(&app, &format!("/v1/users/{user_id}/export")).await;
        assert_eq!(export["object"], "user_export");
        assert_eq!(export["user"]["identifier"], email);
        assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
        let kinds: Vec<&str> = export["audit_events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"user_created"), "{export}");
        assert!(
            !export.to_string().contains("hash"),
            "no secret or hash is exported: {export}"
        );

        let erased = app
            .http
            .delete(app.url(&format!("/v1/users/{user_id}")))
            .header("x-api-key", &app.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(erased.status(), 204);
        let gone = get(&app, &app.secret_key, &format!("/v1/users/{user_id}")).await;
        assert_eq!(gone.status(), 404);
        assert_eq!(
            refresh(&app, &signed_in["refresh_token"]).await.status(),
            401
        );
        let encoded = email.replace('+', "%2B");
        let by_identifier = get(
            &app,
            &app.secret_key,
            &format!("/v1/users?identifier={encoded}"),
        )
        .await;
        assert_eq!(by_identifier.status(), 404);

        deliver_events(&app).await;
        let theirs = get_json(&app, &format!("/v1/audit-events?user_id={user_id}")).await;
        assert_eq!(theirs["data"], json!([]), "no entry names the erased user");
        let erasures = get_json(&app, "/v1/audit-events?kind=user_erased").await;
        let erasure = &erasures["data"][0];
        let pseudonym = erasure["user_id"].as_str().expect("the erasure is audited");
        assert_ne!(pseudonym, user_id);
        let kept = get_json(&app, &format!("/v1/audit-events?user_id={pseudonym}")).await;
        let kept = kept["data"].as_array().unwrap();
        assert!(
            kept.len() >= 3,
            "the entries are kept under the pseudonym: {kept:?}"
        );
        assert!(kept
            .iter()
            .all(|e| e["identifier"].is_null() && e["ip"].is_null()));

        let again = app.sign_in(&email).await;
        assert_ne!(again["user_id"].as_str().unwrap(), user_id, "a new user");
        assert_eq!(again["is_new_user"], true);
    })
    .await;
}

async fn as_user(
    app: &TestApp,
    access_token: &Value,
    path: &str,
    body: Value,
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("x-api-key", &app.publishable_key)
        .bearer_auth(access_token.as_str().unwrap())
        .json(&body)
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn a_signed_in_user_changes_their_identifier_by_proving_the_new_one() {
    for_each_backend(|app: TestApp| async move {
        let (old, new) = (app.unique_email(), app.unique_email());
        let signed_in = app.sign_in(&old).await;
        let token = &signed_in["access_token"];
        let started = as_user(&app, token, "/v1/me/identifier", json!({"identifier": new})).await;
        assert_eq!(started.status(), 200);
        let started: Value = started.json().await.unwrap();
        let code = app.code_sent_to(&new).await;
        let changed = as_user(
            &app,
            token,
            "/v1/me/identifier/verify",
            json!({"challenge_id": started["challenge_id"], "code": code}),
        )
        .await;
        assert_eq!(changed.status(), 200);
        assert_eq!(changed.json::<Value>().await.unwrap()["identifier"], new);
        let again = app.sign_in(&new).await;
        assert_eq!(
            again["user_id"], signed_in["user_id"],
            "the same user, by the new identifier"
        );
        let found = get_json(
            &app,
            &format!("/v1/users?identifier={}", new.replace('+', "%2B")),
        )
        .await;
        assert_eq!(found["id"], signed_in["user_id"]);

        // Another user proves the same address: it is taken, and stays with its holder.
        let other = app.sign_in(&app.unique_email()).await;
        let started = as_user(
            &app,
            &other["access_token"],
            "/v1/me/identifier",
            json!({"identifier": new}),
        )
        .await;
        let started: Value = started.json().await.unwrap();
        let code = app.code_sent_to(&new).await;
        let taken = as_user(
            &app,
            &other["access_token"],
            "/v1/me/identifier/verify",
            json!({"challenge_id": started["challenge_id"], "code": code}),
        )
        .await;
        assert_eq!(taken.status(), 409);
        assert_eq!(
            taken.json::<Value>().await.unwrap()["code"],
            "identifier_taken"
        );
        let without_token = app
            .post(
                "/v1/me/identifier",
                Some(&app.publishable_key),
                json!({"identifier": new}),
            )
            .await;
        assert_eq!(without_token.status(), 401);
    })
    .await;
}

/// Proves `identifier` for the user holding `access_token`: the verify response.
async fn prove(app: &TestApp, access_token: &Value, identifier: &str) -> reqwest::Response {
    let started = as_user(
        app,
        access_token,
        "/v1/me/identifier",
        json!({"identifier": identifier}),
    )
    .await;
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    let code = app.code_sent_to(identifier).await;
    as_user(
        app,
        access_token,
        "/v1/me/identifier/verify",
        json!({"challenge_id": started["challenge_id"], "code": code}),
    )
    .await
}

#[tokio::test]
async fn a_user_holds_an_address_and_a_number_signs_in_by_either_and_keeps_one_at_least() {
    for_each_backend(|app: TestApp| async move {
        let (email, phone) = (app.unique_email(), app.unique_phone());
        let signed_in = app.sign_in(&email).await;
        let (token, user_id) = (&signed_in["access_token"], signed_in["user_id"].clone());
        let both = prove(&app, token, &phone).await;
        assert_eq!(both.status(), 200);
        let both: Value = both.json().await.unwrap();
        assert_eq!(
            (&both["identifier"], &both["second_identifier"]),
            (&json!(email), &json!(phone)),
            "the number joins the address"
        );
        assert_eq!(
            app.sign_in(&phone).await["user_id"],
            user_id,
            "by the number"
        );
        assert_eq!(
            app.sign_in(&email).await["user_id"],
            user_id,
            "by the address"
        );
        let read = get_json(&app, &format!("/v1/users/{}", user_id.as_str().unwrap())).await;
        assert_eq!(read["second_identifier"], json!(phone));
        let by_number = get_json(
            &app,
            &format!("/v1/users?identifier={}", phone.replace('+', "%2B")),
        )
        .await;
        assert_eq!(by_number["id"], user_id);

        // Disabling covers both: a right code by the number opens nothing.
        let id = user_id.as_str().unwrap();
        assert_eq!(
            post_secret(&app, &format!("/v1/users/{id}/disable"))
                .await
                .status(),
            200
        );
        let started = app.start(&phone).await;
        let code = app.code_sent_to(&phone).await;
        let refused = app
            .verify_code(started["challenge_id"].as_str().unwrap(), &code)
            .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(
            post_secret(&app, &format!("/v1/users/{id}/enable"))
                .await
                .status(),
            200
        );

        // One can go while the other remains; the last cannot. (Disabling revoked the
        // sessions: a fresh sign-in.)
        let again = app.sign_in(&phone).await;
        let token = &again["access_token"];
        let removed = as_user(
            &app,
            token,
            "/v1/me/identifier/remove",
            json!({"kind": "email"}),
        )
        .await;
        assert_eq!(removed.status(), 200);
        let removed: Value = removed.json().await.unwrap();
        assert_eq!(
            (&removed["identifier"], &removed["second_identifier"]),
            (&json!(phone), &Value::Null)
        );
        let last = as_user(
            &app,
            token,
            "/v1/me/identifier/remove",
            json!({"kind": "phone"}),
        )
        .await;
        assert_eq!(last.status(), 409);
        assert_eq!(
            last.json::<Value>().await.unwrap()["code"],
            "last_identifier"
        );
        let none = as_user(
            &app,
            token,
            "/v1/me/identifier/remove",
            json!({"kind": "email"}),
        )
        .await;
        assert_eq!(none.status(), 404);
        let junk = as_user(
            &app,
            token,
            "/v1/me/identifier/remove",
            json!({"kind": "fax"}),
        )
        .await;
        assert!(junk.status().is_client_error(), "{}", junk.status());
        assert_ne!(
            app.sign_in(&email).await["user_id"],
            user_id,
            "the removed address is free: it signs in someone new"
        );
    })
    .await;
}

#[tokio::test]
async fn erasure_ends_the_users_sign_ins_in_flight() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let user_id = app.sign_in(&email).await["user_id"].clone();
        let started = app.start(&email).await;
        let code = app.code_sent_to(&email).await;
        let erased = app
            .http
            .delete(app.url(&format!("/v1/users/{}", user_id.as_str().unwrap())))
            .header("x-api-key", &app.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(erased.status(), 204);
        let late = app
            .verify_code(started["challenge_id"].as_str().unwrap(), &code)
            .await;
        assert_eq!(
            late.status(),
            404,
            "the code sent before the erasure is gone"
        );
        assert_eq!(
            late.json::<Value>().await.unwrap()["code"],
            "challenge_not_found"
        );
    })
    .await;
}
