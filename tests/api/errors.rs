use authkit_tests::{for_each_backend, TestApp};
use serde_json::json;

async fn problem(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "status {status}"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn hostile_and_broken_requests_get_typed_problems_never_500() {
    for_each_backend(|app: TestApp| async move {
        let key = Some(app.publishable_key.as_str());
        let raw = |body: &'static str| {
            app.http
                .post(app.url("/v1/auth/start"))
                .header("x-api-key", &app.publishable_key)
                .header("content-type", "application/json")
                .body(body)
        };
        let (status, body) = problem(raw("{not json").send().await.unwrap()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("malformed_json"))
        );

        let (status, body) = problem(
            app.post(
                "/v1/auth/start",
                None,
                json!({"identifier": "a@example.com"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_api_key"))
        );

        let (status, body) = problem(
            app.post(
                "/v1/auth/start",
                Some("ak_pub_wrong"),
                json!({"identifier": "a@example.com"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_api_key"))
        );

        let big = "x".repeat(64 * 1024);
        let (status, body) = problem(
            app.post("/v1/auth/start", key, json!({"identifier": big}))
                .await,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (413, Some("body_too_large"))
        );

        let (status, body) = problem(
            app.post(
                "/v1/auth/start",
                key,
                json!({"identifier": "not an address"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_identifier"))
        );

        let (status, body) = problem(
            app.post(
                "/v1/auth/verify",
                key,
                json!({"challenge_id": "ch_nope", "code": "123456"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{body}");

        let unknown = format!("ch_{}", "0".repeat(32));
        let (status, body) = problem(
            app.post(
                "/v1/auth/verify",
                key,
                json!({"challenge_id": unknown, "code": "123456"}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("challenge_not_found"))
        );

        let (status, _) = problem(
            app.http
                .get(app.url("/v1/nothing-here"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 404);

        let body: &'static str = "{\"identifier\": \"a@example.com\", \"channel\": \"pigeon\"}";
        let (status, _) = problem(raw(body).send().await.unwrap()).await;
        assert_eq!(status, 400);
    })
    .await;
}

#[tokio::test]
async fn health_readiness_and_liveness_answer() {
    for_each_backend(|app: TestApp| async move {
        for path in ["/health", "/live", "/ready"] {
            assert_eq!(
                app.http.get(app.url(path)).send().await.unwrap().status(),
                200,
                "{path}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn whatsapp_is_refused_up_front_where_the_deployment_cannot_deliver_it() {
    if authkit_tests::emulator_endpoint().is_none() {
        return;
    }
    // AWS delivery (SNS, SES) has no WhatsApp sender; the local outbox would print it.
    let app = TestApp::spawn(authkit_tests::Backend::Emulator).await;
    let (status, body) = problem(
        app.post(
            "/v1/auth/start",
            Some(&app.publishable_key),
            json!({"identifier": app.unique_phone(), "channel": "whatsapp"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("channel_unavailable"))
    );
}
