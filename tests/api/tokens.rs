use authkit_tests::{for_each_backend, TestApp};
use serde_json::json;

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let original = signed_in["refresh_token"].as_str().unwrap().to_owned();
        let refreshed = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": original}),
            )
            .await;
        assert_eq!(refreshed.status(), 200);
        let rotated: serde_json::Value = refreshed.json().await.unwrap();
        let next = rotated["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, original);
        app.verify_with_published_jwks(rotated["access_token"].as_str().unwrap())
            .await;

        let reuse = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": original}),
            )
            .await;
        assert_eq!(reuse.status(), 401);
        let problem: serde_json::Value = reuse.json().await.unwrap();
        assert_eq!(problem["code"], "refresh_token_reused");
        let after = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": next}),
            )
            .await;
        assert_eq!(after.status(), 401, "the family survived a reuse");
    })
    .await;
}

#[tokio::test]
async fn signing_out_revokes_the_refresh_token() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let refresh = signed_in["refresh_token"].clone();
        let revoked = app
            .post(
                "/v1/token/revoke",
                Some(&app.publishable_key),
                json!({"refresh_token": refresh}),
            )
            .await;
        assert_eq!(revoked.status(), 200);
        let after = app
            .post(
                "/v1/token/refresh",
                Some(&app.publishable_key),
                json!({"refresh_token": refresh}),
            )
            .await;
        assert_eq!(after.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn discovery_points_standard_libraries_at_the_jwks() {
    for_each_backend(|app: TestApp| async move {
        let discovery: serde_json::Value = app
            .http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], app.issuer);
        assert_eq!(
            discovery["jwks_uri"],
            format!("{}/.well-known/jwks.json", app.issuer)
        );
        let jwks: serde_json::Value = app
            .http
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
        assert!(key.get("d").is_none(), "the JWKS leaks a private key");
    })
    .await;
}
