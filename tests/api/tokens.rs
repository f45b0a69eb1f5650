use authkit_tests::{for_each_backend, TestApp};
use serde_json::json;

async fn refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.post(
        "/v1/token/refresh",
        Some(&app.publishable_key),
        json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn rotated(app: &TestApp, refresh_token: &str) -> String {
    let response = refresh(app, refresh_token).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_old_one_revokes_the_session() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let original = signed_in["refresh_token"].as_str().unwrap().to_owned();
        let refreshed = refresh(&app, &original).await;
        assert_eq!(refreshed.status(), 200);
        let body: serde_json::Value = refreshed.json().await.unwrap();
        let next = body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, original);
        app.verify_with_published_jwks(body["access_token"].as_str().unwrap())
            .await;
        let newest = rotated(&app, &next).await;

        // Two rotations old: a real token that was already used, not a retry.
        let reuse = refresh(&app, &original).await;
        assert_eq!(reuse.status(), 401);
        let problem: serde_json::Value = reuse.json().await.unwrap();
        assert_eq!(problem["code"], "refresh_token_reused");
        let after = refresh(&app, &newest).await;
        assert_eq!(after.status(), 401, "the family survived a reuse");
    })
    .await;
}

#[tokio::test]
async fn a_made_up_secret_for_a_known_session_is_refused_without_ending_it() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let real = signed_in["refresh_token"].as_str().unwrap().to_owned();
        let (family, _) = real.split_once('.').unwrap();
        let forged = refresh(&app, &format!("{family}.{}", "A".repeat(43))).await;
        assert_eq!(forged.status(), 401);
        let problem: serde_json::Value = forged.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_refresh_token");
        assert_eq!(
            refresh(&app, &real).await.status(),
            200,
            "a guessed secret with a logged family id ended the real session"
        );
    })
    .await;
}

#[tokio::test]
async fn two_tabs_refreshing_one_token_at_once_both_stay_signed_in() {
    for_each_backend(|app: TestApp| async move {
        let signed_in = app.sign_in(&app.unique_email()).await;
        let original = signed_in["refresh_token"].as_str().unwrap().to_owned();
        let (a, b) = tokio::join!(refresh(&app, &original), refresh(&app, &original));
        assert_eq!(
            (a.status().as_u16(), b.status().as_u16()),
            (200, 200),
            "a concurrent refresh logged the user out"
        );
        let a: serde_json::Value = a.json().await.unwrap();
        let b: serde_json::Value = b.json().await.unwrap();
        assert_eq!(
            a["refresh_token"], b["refresh_token"],
            "both tabs must hold the same new refresh token"
        );
        let retry = rotated(&app, &original).await;
        assert_eq!(
            retry,
            a["refresh_token"].as_str().unwrap(),
            "a retry inside the grace window returns the same pair"
        );
        rotated(&app, &retry).await;
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

/// RFC 6749 §5.1: a response carrying tokens or credentials must not be cached anywhere.
fn assert_never_cached(what: &str, response: &reqwest::Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{what}: Cache-Control"
    );
    assert_eq!(
        header("pragma").as_deref(),
        Some("no-cache"),
        "{what}: Pragma"
    );
}

#[tokio::test]
async fn every_response_carrying_tokens_or_credentials_forbids_caching() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let started = app.start(&email).await;
        let code = app.code_sent_to(&email).await;
        let verified = app
            .verify_code(started["challenge_id"].as_str().unwrap(), &code)
            .await;
        assert_eq!(verified.status(), 200);
        assert_never_cached("verify", &verified);
        let signed_in: serde_json::Value = verified.json().await.unwrap();
        let access = signed_in["access_token"].as_str().unwrap().to_owned();

        let refreshed = refresh(&app, signed_in["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refreshed.status(), 200);
        assert_never_cached("refresh", &refreshed);

        let fingerprint =
            json!({"platform": "Linux x86_64", "timezone": "Europe/Berlin", "screen": "2560x1440"});
        let bound = app
            .http
            .post(app.url("/v1/devices"))
            .bearer_auth(&access)
            .header("x-api-key", &app.publishable_key)
            .json(&json!({"fingerprint": fingerprint, "trusted": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(bound.status(), 201);
        assert_never_cached("device bind", &bound);
        let credential = bound.json::<serde_json::Value>().await.unwrap()["credential"].clone();

        let device_sign_in = app
            .post(
                "/v1/auth/device",
                Some(&app.publishable_key),
                json!({"credential": credential, "fingerprint": fingerprint}),
            )
            .await;
        assert_eq!(device_sign_in.status(), 200);
        assert_never_cached("device sign-in", &device_sign_in);

        let introspected = app
            .http
            .post(app.url("/v1/token/introspect"))
            .header("x-api-key", &app.secret_key)
            .form(&[("token", access.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(introspected.status(), 200);
        assert_never_cached("introspect", &introspected);
    })
    .await;
}
