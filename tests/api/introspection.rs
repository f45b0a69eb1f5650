//! Revocation reaching access tokens: RFC 7662 introspection for resource servers, and the
//! device routes checking the token's session.

use authkit_tests::{for_each_backend, TestApp};
use serde_json::{json, Value};

async fn introspect_form(app: &TestApp, key: &str, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/token/introspect"))
        .header("x-api-key", key)
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap()
}

async fn introspection(app: &TestApp, token: &str) -> Value {
    let response = introspect_form(app, &app.secret_key, token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn sign_out(app: &TestApp, refresh_token: &Value) {
    let revoked = app
        .post(
            "/v1/token/revoke",
            Some(&app.publishable_key),
            json!({"refresh_token": refresh_token}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
}

#[tokio::test]
async fn introspection_says_a_token_is_active_until_its_session_is_revoked() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let access = signed_in["access_token"].as_str().unwrap();
        let claims = app.verify_with_published_jwks(access).await;

        let active = introspection(&app, access).await;
        assert_eq!(active["active"], true, "{active}");
        assert_eq!(active["sub"], signed_in["user_id"]);
        assert_eq!(active["client_id"], app.tenant);
        assert_eq!(active["aud"], app.tenant);
        assert_eq!(active["iss"], app.issuer);
        assert_eq!(active["token_type"], "Bearer");
        assert_eq!(active["exp"], claims["exp"]);
        assert_eq!(active["iat"], claims["iat"]);
        assert_eq!(active["amr"], json!(["otp", "email"]));
        assert_eq!(
            active["sid"], claims["sid"],
            "the token names its session in `sid`"
        );
        assert!(active["sid"].as_str().unwrap().starts_with("rtf_"));

        let by_json = app
            .http
            .post(app.url("/v1/token/introspect"))
            .header("x-api-key", &app.secret_key)
            .json(&json!({"token": access}))
            .send()
            .await
            .unwrap();
        assert_eq!(by_json.status(), 200);
        assert_eq!(by_json.json::<Value>().await.unwrap()["active"], true);

        sign_out(&app, &signed_in["refresh_token"]).await;
        assert_eq!(
            introspection(&app, access).await,
            json!({"active": false}),
            "a signed-out session's access token is still reported active"
        );
        assert_eq!(
            introspection(&app, "not.a.token").await,
            json!({"active": false})
        );
    })
    .await;
}

#[tokio::test]
async fn introspection_needs_the_tenants_secret_key() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let access = signed_in["access_token"].as_str().unwrap();
        let refused = introspect_form(&app, &app.publishable_key, access).await;
        assert_eq!(refused.status(), 403);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "secret_key_required");
        let anonymous = app
            .http
            .post(app.url("/v1/token/introspect"))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn device_routes_refuse_an_access_token_whose_session_was_revoked() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let access = signed_in["access_token"].as_str().unwrap();
        let list = |token: String| {
            app.http
                .get(app.url("/v1/devices"))
                .bearer_auth(token)
                .header("x-api-key", &app.publishable_key)
                .send()
        };
        assert_eq!(list(access.to_owned()).await.unwrap().status(), 200);
        sign_out(&app, &signed_in["refresh_token"]).await;
        let after = list(access.to_owned()).await.unwrap();
        assert_eq!(
            after.status(),
            401,
            "a signed-out session's access token still manages devices"
        );
        let problem: Value = after.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_access_token");
    })
    .await;
}
