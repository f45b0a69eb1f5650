//! Who may use which key from where (issue 13): publishable keys from the tenant's web
//! origins only, secret keys never from a browser.

use authkit_tests::{for_each_backend, TestApp};
use serde_json::{json, Value};

async fn start_from(app: &TestApp, key: &str, origin: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/auth/start"))
        .header("x-api-key", key)
        .header("origin", origin)
        .json(&json!({"identifier": app.unique_email()}))
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn a_secret_key_sent_from_a_browser_is_refused_saying_why() {
    for_each_backend(|app| async move {
        let response = start_from(&app, &app.secret_key, "https://app.example.com").await;
        assert_eq!(response.status(), 403);
        let problem: Value = response.json().await.expect("problem JSON");
        assert_eq!(problem["code"], "secret_key_in_browser", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("publishable")),
            "the problem says what to use instead: {problem}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_publishable_key_from_an_origin_the_tenant_does_not_list_is_refused() {
    for_each_backend(|app| async move {
        let response = start_from(&app, &app.publishable_key, "https://evil.example").await;
        assert_eq!(response.status(), 403);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "a refused origin is not told it may read the answer"
        );
        let problem: Value = response.json().await.expect("problem JSON");
        assert_eq!(problem["code"], "origin_not_allowed", "{problem}");
    })
    .await;
}
