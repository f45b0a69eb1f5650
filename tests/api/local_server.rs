//! The real `authkit-local` binary as a newcomer runs it: on a port the system picks, with
//! no issuer configured, followed by the lines its banner tells them to paste.

use std::time::Duration;

use authkit_tests::lambda_runtime_api::binary_path;
use authkit_tests::local_server::LocalServer;
use serde_json::{json, Value};
use tokio::process::Command;

#[tokio::test]
async fn on_a_port_picked_by_the_system_the_pasted_banner_signs_in_and_discovery_verifies_the_token(
) {
    let server = LocalServer::start("127.0.0.1:0").await;
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    assert!(
        !server.url.ends_with(":0"),
        "the banner names the bound port"
    );

    let script = server.try_lines.join("\n");
    assert!(script.contains(&server.publishable_key), "{script}");
    assert!(!script.contains('<'), "no placeholder to fill in: {script}");
    let pasted = Command::new("sh")
        .args(["-c", &script])
        .output()
        .await
        .expect("sh runs");
    assert!(pasted.status.success(), "{pasted:?}");
    let tokens: Value = serde_json::from_slice(&pasted.stdout).unwrap_or_else(|_| {
        panic!(
            "the pasted lines end with the tokens: {}",
            String::from_utf8_lossy(&pasted.stdout)
        )
    });
    let access_token = tokens["access_token"].as_str().expect("an access token");

    // A standard client: discovery → jwks_uri → verify, trusting nothing else.
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(&url).send().await.expect("the server answers");
            assert_eq!(response.status(), 200, "{url}");
            response.json::<Value>().await.expect("JSON")
        }
    };
    let discovery = get(format!("{}/.well-known/openid-configuration", server.url)).await;
    assert_eq!(discovery["issuer"], server.url.as_str());
    let jwks_uri = discovery["jwks_uri"].as_str().expect("a jwks_uri");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get(jwks_uri.to_owned()).await).expect("a JWK set");
    let header = jsonwebtoken::decode_header(access_token).expect("a JWT header");
    let jwk = jwks
        .find(header.kid.as_deref().expect("a kid"))
        .expect("the kid is published");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    validation.set_audience(&["demo"]);
    jsonwebtoken::decode::<Value>(
        access_token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a usable JWK"),
        &validation,
    )
    .expect("the token verifies through the discovery document");

    // Magic links point at the port the server really listens on.
    let started = http
        .post(format!("{}/v1/auth/start", server.url))
        .header("x-api-key", &server.publishable_key)
        .json(&json!({"identifier": "link@example.com", "kind": "magic_link"}))
        .send()
        .await
        .expect("start answers");
    assert_eq!(started.status(), 200);
    let link = http
        .get(format!(
            "{}/dev/outbox/latest?to=link@example.com",
            server.url
        ))
        .send()
        .await
        .expect("the outbox answers")
        .text()
        .await
        .expect("text");
    assert!(
        link.starts_with(&format!("{}/v1/auth/link?", server.url)),
        "{link}"
    );
    let page = http.get(link.trim()).send().await.expect("the link opens");
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn a_wildcard_bind_names_the_server_by_its_loopback_address() {
    let server = LocalServer::start("0.0.0.0:0").await;
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let discovery: Value = reqwest::get(format!("{}/.well-known/openid-configuration", server.url))
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(discovery["issuer"], server.url.as_str());
}

#[tokio::test]
async fn help_prints_usage_without_reading_configuration_or_serving() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["serve", "--help"],
        &["create-tenant", "-h"],
    ] {
        // A configuration that could not start a server, and a port that could not be bound.
        let run = Command::new(binary_path("authkit-local"))
            .args(args)
            .env_clear()
            .env("AUTHKIT_STORE", "postgres")
            .env("AUTHKIT_LISTEN", "not an address")
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap_or_else(|_| panic!("{args:?} exits at once"))
            .expect("authkit-local runs");
        assert!(output.status.success(), "{args:?}: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.starts_with("usage:") && stdout.contains("create-tables"),
            "{args:?}: {stdout}"
        );
    }
}

async fn connect(server: &LocalServer) -> tokio::net::TcpStream {
    let address = server.url.trim_start_matches("http://");
    tokio::net::TcpStream::connect(address)
        .await
        .expect("connects")
}

/// Reads until the server answers and closes, or `limit` passes: what was read, and
/// whether the connection ended.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut read = Vec::new();
    let ended = tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&read).into_owned(), ended)
}

/// Security review finding 7: a declared body over the limit is refused from its headers,
/// before any of it arrives.
#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_arrives() {
    use tokio::io::AsyncWriteExt;
    let server = LocalServer::start("127.0.0.1:0").await;
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /v1/auth/start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000\r\n\
         content-type: application/json\r\nx-api-key: {}\r\n\r\n{{",
        server.publishable_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
}

/// Security review finding 7: connections that send nothing, never finish their headers,
/// or never send the body they declared are closed, not held open for ever.
#[tokio::test]
async fn stalled_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let server = LocalServer::start("127.0.0.1:0").await;
    let mut silent = connect(&server).await;
    let mut half_headers = connect(&server).await;
    half_headers
        .write_all(b"POST /v1/auth/start HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut half_body = connect(&server).await;
    let head = format!(
        "POST /v1/auth/start HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\
         content-type: application/json\r\nx-api-key: {}\r\n\r\n{{\"ident",
        server.publishable_key
    );
    half_body.write_all(head.as_bytes()).await.unwrap();
    let limit = Duration::from_secs(40);
    let (silent, half_headers, half_body) = tokio::join!(
        read_until_closed(&mut silent, limit),
        read_until_closed(&mut half_headers, limit),
        read_until_closed(&mut half_body, limit),
    );
    assert!(silent.1, "a silent connection stays open");
    assert!(half_headers.1, "unfinished headers keep the connection");
    assert!(half_body.1, "an unfinished body keeps the connection");
    assert!(half_body.0.starts_with("HTTP/1.1 408"), "{}", half_body.0);
}
