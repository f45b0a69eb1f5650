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
