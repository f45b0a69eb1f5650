//! What the deployment's front door guarantees (security review, issue 9 item 6): behind
//! CloudFront the client is the viewer CloudFront names, not the edge server, and requests
//! that did not come through CloudFront (straight to the execute-api endpoint, around the
//! WAF) are refused.

use authkit_tests::{Backend, TestApp};
use serde_json::json;

const ORIGIN_SECRET: &str = "9f1c2b7e4d5a6f8091a2b3c4d5e6f708192a3b4c5d6e7f80";

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

async fn behind_cloudfront() -> TestApp {
    TestApp::spawn_with(
        Backend::Embedded,
        &[
            ("AUTHKIT_CLIENT_IP_SOURCE", "cloudfront"),
            ("AUTHKIT_ORIGIN_SECRET_SHA256", &sha256_hex(ORIGIN_SECRET)),
        ],
    )
    .await
}

async fn start_as_viewer(app: &TestApp, viewer: &str, identifier: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/auth/start"))
        .header("x-api-key", &app.publishable_key)
        .header("x-authkit-origin", ORIGIN_SECRET)
        .header("cloudfront-viewer-address", viewer)
        .json(&json!({"identifier": identifier}))
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn requests_that_bypass_cloudfront_are_refused() {
    let app = behind_cloudfront().await;
    for secret in [None, Some("wrong"), Some(&ORIGIN_SECRET[1..])] {
        let mut request = app
            .http
            .post(app.url("/v1/auth/start"))
            .header("x-api-key", &app.publishable_key)
            .json(&json!({"identifier": app.unique_email()}));
        if let Some(secret) = secret {
            request = request.header("x-authkit-origin", secret);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), 403, "origin secret {secret:?}");
        let problem: serde_json::Value = response.json().await.expect("a problem document");
        assert_eq!(problem["code"], "origin_forbidden");
    }
    let through = start_as_viewer(&app, "198.51.100.7:443", &app.unique_email()).await;
    assert_eq!(through.status(), 200);
}

#[tokio::test]
async fn behind_cloudfront_each_viewer_has_its_own_ip_limit() {
    let app = behind_cloudfront().await;
    // The default policy admits 30 starts per IP per 10 minutes.
    for _ in 0..30 {
        let response = start_as_viewer(&app, "198.51.100.7:51234", &app.unique_email()).await;
        assert_eq!(response.status(), 200);
    }
    let over = start_as_viewer(&app, "198.51.100.7:40000", &app.unique_email()).await;
    assert_eq!(over.status(), 429, "the same viewer from another port");
    let other_viewer = start_as_viewer(&app, "203.0.113.50:51234", &app.unique_email()).await;
    assert_eq!(
        other_viewer.status(),
        200,
        "another viewer behind the same edge"
    );
    let ipv6 = start_as_viewer(&app, "2001:db8:1:2::7:443", &app.unique_email()).await;
    assert_eq!(ipv6.status(), 200);
}
