use authkit_tests::{for_each_backend, TestApp};
use serde_json::json;

fn laptop() -> serde_json::Value {
    json!({
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "platform": "Linux x86_64",
        "screen": "2560x1440",
        "timezone": "Europe/Berlin",
        "languages": ["de-DE"],
        "color_depth": 24,
        "hardware_concurrency": 16
    })
}

#[tokio::test]
async fn devices_are_bound_listed_used_and_revoked() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let access = signed_in["access_token"].as_str().unwrap().to_owned();
        let bind = app
            .http
            .post(app.url("/v1/devices"))
            .bearer_auth(&access)
            .header("x-api-key", &app.publishable_key)
            .json(&json!({"fingerprint": laptop(), "name": "Work laptop", "trusted": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(bind.status(), 201);
        let bound: serde_json::Value = bind.json().await.unwrap();
        let device_id = bound["device_id"].as_str().unwrap().to_owned();
        let credential = bound["credential"].as_str().unwrap().to_owned();

        let list = app
            .http
            .get(app.url("/v1/devices"))
            .bearer_auth(&access)
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), 200);
        let listed = list.text().await.unwrap();
        assert!(listed.contains(&device_id));
        assert!(
            !listed.contains(credential.rsplit('.').next().unwrap()),
            "the device secret is listed"
        );

        let device_sign_in = app
            .post(
                "/v1/auth/device",
                Some(&app.publishable_key),
                json!({"credential": credential, "fingerprint": laptop()}),
            )
            .await;
        assert_eq!(device_sign_in.status(), 200);

        let delete = app
            .http
            .delete(app.url(&format!("/v1/devices/{device_id}")))
            .bearer_auth(&access)
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 204);
        let refused = app
            .post(
                "/v1/auth/device",
                Some(&app.publishable_key),
                json!({"credential": credential, "fingerprint": laptop()}),
            )
            .await;
        assert_eq!(refused.status(), 401);
        let again = app
            .http
            .delete(app.url(&format!("/v1/devices/{device_id}")))
            .bearer_auth(&access)
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn device_routes_need_a_valid_access_token() {
    for_each_backend(|app: TestApp| async move {
        let response = app
            .http
            .get(app.url("/v1/devices"))
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let forged = app
            .http
            .get(app.url("/v1/devices"))
            .bearer_auth("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
    })
    .await;
}

/// Signs a user in by code and binds a trusted laptop: (code sign-in, device credential,
/// device id).
async fn bound_laptop(app: &TestApp) -> (serde_json::Value, String, String) {
    let signed_in = app.sign_in(&app.unique_email()).await;
    let bind = app
        .http
        .post(app.url("/v1/devices"))
        .bearer_auth(signed_in["access_token"].as_str().unwrap())
        .header("x-api-key", &app.publishable_key)
        .json(&json!({"fingerprint": laptop(), "trusted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(bind.status(), 201);
    let bound: serde_json::Value = bind.json().await.unwrap();
    (
        signed_in,
        bound["credential"].as_str().unwrap().to_owned(),
        bound["device_id"].as_str().unwrap().to_owned(),
    )
}

async fn device_sign_in(app: &TestApp, credential: &str) -> serde_json::Value {
    let response = app
        .post(
            "/v1/auth/device",
            Some(&app.publishable_key),
            json!({"credential": credential, "fingerprint": laptop()}),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn revoking_a_device_ends_the_sessions_it_signed_in() {
    for_each_backend(|app: TestApp| async move {
        let (by_code, credential, device_id) = bound_laptop(&app).await;
        let by_device = device_sign_in(&app, &credential).await;
        let delete = app
            .http
            .delete(app.url(&format!("/v1/devices/{device_id}")))
            .bearer_auth(by_code["access_token"].as_str().unwrap())
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 204);
        let refreshed = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": by_device["refresh_token"]}),
            )
            .await;
        assert_eq!(
            refreshed.status(),
            401,
            "a session opened by a revoked device still refreshes"
        );
        let listed = app
            .http
            .get(app.url("/v1/devices"))
            .bearer_auth(by_device["access_token"].as_str().unwrap())
            .header("x-api-key", &app.publishable_key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            listed.status(),
            401,
            "a revoked device's access token still manages devices"
        );
    })
    .await;
}

#[tokio::test]
async fn a_device_sign_in_cannot_bind_another_device() {
    for_each_backend(|app: TestApp| async move {
        let (_, credential, _) = bound_laptop(&app).await;
        let by_device = device_sign_in(&app, &credential).await;
        let bind = app
            .http
            .post(app.url("/v1/devices"))
            .bearer_auth(by_device["access_token"].as_str().unwrap())
            .header("x-api-key", &app.publishable_key)
            .json(&json!({"fingerprint": laptop(), "trusted": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            bind.status(),
            401,
            "a device sign-in bound a new trusted device"
        );
        let problem: serde_json::Value = bind.json().await.unwrap();
        assert_eq!(problem["code"], "insufficient_user_authentication");
    })
    .await;
}

/// Security review finding 4: a thief holding the credential but not the fingerprint
/// sends one guessable field, then floods; neither signs in, and the flood is throttled.
#[tokio::test]
async fn a_stolen_credential_with_a_partial_fingerprint_is_refused_and_throttled() {
    for_each_backend(|app: TestApp| async move {
        let (_, credential, _) = bound_laptop(&app).await;
        let mut statuses = Vec::new();
        for guess in [24, 32, 30, 48, 16] {
            let response = app
                .post(
                    "/v1/auth/device",
                    Some(&app.publishable_key),
                    json!({"credential": credential, "fingerprint": {"color_depth": guess}}),
                )
                .await;
            statuses.push(response.status().as_u16());
        }
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
        for _ in 0..10 {
            let response = app
                .post(
                    "/v1/auth/device",
                    Some(&app.publishable_key),
                    json!({"credential": credential, "fingerprint": laptop()}),
                )
                .await;
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
        assert!(!statuses.contains(&200), "{statuses:?}");
    })
    .await;
}
