//! Response headers every client gets (security review, findings 9 and 10): `nosniff` on
//! every response, `no-store` on every API answer, and a request id clients cannot use to
//! forge log fields.

use authkit_tests::{Backend, TestApp};
use serde_json::json;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_response_is_nosniff_and_api_answers_are_not_cached() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let started = app
        .post(
            "/v1/auth/start",
            Some(&app.publishable_key),
            json!({"identifier": app.unique_email()}),
        )
        .await;
    assert_eq!(started.status(), 200);
    assert_eq!(header(&started, "cache-control"), Some("no-store"));
    assert_eq!(header(&started, "x-content-type-options"), Some("nosniff"));
    let problem = app
        .post("/v1/auth/start", Some(&app.publishable_key), json!({}))
        .await;
    assert_eq!(problem.status(), 400);
    assert_eq!(header(&problem, "cache-control"), Some("no-store"));
    assert_eq!(header(&problem, "x-content-type-options"), Some("nosniff"));
    for path in [
        "/health",
        "/.well-known/jwks.json",
        "/no-such-route",
        "/dev/outbox",
        "/dev/callback",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            header(&response, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_client_request_id_is_echoed_only_when_short_and_plain() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let with_id = |name: &'static str, id: String| {
        let request = app.http.get(app.url("/health")).header(name, id);
        async move { request.send().await.unwrap() }
    };
    let plain = with_id("x-request-id", "req-1.A_b".into()).await;
    assert_eq!(header(&plain, "x-request-id"), Some("req-1.A_b"));
    for (name, hostile) in [
        ("x-request-id", r#"9f3d" tenant="other"#.to_owned()),
        ("x-request-id", "a".repeat(65)),
        ("x-request-id", "a=b".to_owned()),
        ("x-amzn-requestid", "spoofed-by-a-client".to_owned()),
    ] {
        let response = with_id(name, hostile.clone()).await;
        let echoed = header(&response, "x-request-id").unwrap_or_default();
        assert_ne!(echoed, hostile, "{name}");
        assert!(
            !echoed.is_empty()
                && echoed.len() <= 64
                && echoed
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{name}: {echoed}"
        );
    }
}

/// DNS rebinding: a page on another origin whose name resolves to 127.0.0.1 must not read
/// the dev outbox (it holds everyone's codes).
#[tokio::test]
async fn the_dev_outbox_answers_only_to_a_loopback_host() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let port = app.base_url.rsplit(':').next().unwrap().to_owned();
    let outbox = |host: String| {
        let request = app.http.get(app.url("/dev/outbox")).header("host", host);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(outbox(host.clone()).await, 200, "{host}");
    }
    for host in [
        format!("attacker.example:{port}"),
        "attacker.example".to_owned(),
        format!("localhost.attacker.example:{port}"),
    ] {
        assert_eq!(outbox(host.clone()).await, 403, "{host}");
    }
}
