use authkit_tests::{for_each_backend, TestApp};
use serde_json::json;

#[tokio::test]
async fn a_new_user_signs_in_with_an_email_code_and_gets_verifiable_tokens() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let started = app.start(&email).await;
        assert_eq!(started["channel"], "email");
        assert!(started["destination"]
            .as_str()
            .unwrap()
            .contains("***@example.com"));
        let code = app.code_sent_to(&email).await;
        let signed_in = app
            .verify_code(started["challenge_id"].as_str().unwrap(), &code)
            .await;
        assert_eq!(signed_in.status(), 200);
        let body: serde_json::Value = signed_in.json().await.unwrap();
        assert_eq!(body["is_new_user"], true);
        assert_eq!(body["token_type"], "Bearer");
        let claims = app
            .verify_with_published_jwks(body["access_token"].as_str().unwrap())
            .await;
        assert_eq!(claims["sub"], body["user_id"]);
        assert_eq!(claims["aud"], app.tenant);
        assert_eq!(claims["amr"], json!(["otp", "email"]));
    })
    .await;
}

#[tokio::test]
async fn a_returning_user_signs_in_by_sms_as_the_same_user() {
    for_each_backend(|app: TestApp| async move {
        let phone = app.unique_phone();
        let first = app.sign_in(&phone).await;
        let second = app.sign_in(&phone).await;
        assert_eq!(first["is_new_user"], true);
        assert_eq!(second["is_new_user"], false);
        assert_eq!(first["user_id"], second["user_id"]);
        let claims = app
            .verify_with_published_jwks(second["access_token"].as_str().unwrap())
            .await;
        assert_eq!(claims["amr"], json!(["otp", "sms"]));
    })
    .await;
}

#[tokio::test]
async fn start_answers_the_same_for_known_and_unknown_identifiers() {
    for_each_backend(|app: TestApp| async move {
        let known = app.unique_email();
        app.sign_in(&known).await;
        let unknown = app.unique_email();
        let a = app.start(&known).await;
        let b = app.start(&unknown).await;
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&a), keys(&b));
        assert_eq!(a["channel"], b["channel"]);
    })
    .await;
}

#[tokio::test]
async fn wrong_codes_count_down_and_then_exhaust_the_challenge() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let started = app.start(&email).await;
        let id = started["challenge_id"].as_str().unwrap();
        let code = app.code_sent_to(&email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for remaining in (1..5).rev() {
            let response = app.verify_code(id, wrong).await;
            assert_eq!(response.status(), 400);
            let problem: serde_json::Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "wrong_code");
            assert_eq!(problem["remaining_attempts"], remaining);
        }
        let last = app.verify_code(id, wrong).await;
        let problem: serde_json::Value = last.json().await.unwrap();
        assert_eq!(problem["code"], "challenge_exhausted");
        let right = app.verify_code(id, &code).await;
        let problem: serde_json::Value = right.json().await.unwrap();
        assert_eq!(problem["code"], "challenge_exhausted");
    })
    .await;
}

#[tokio::test]
async fn a_resend_waits_for_its_cooldown() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let started = app.start(&email).await;
        let response = app
            .post(
                "/v1/auth/resend",
                Some(&app.publishable_key),
                json!({"challenge_id": started["challenge_id"]}),
            )
            .await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().get("retry-after").is_some());
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "resend_too_soon");
    })
    .await;
}
