//! The `authkit` CLI against the real local server binary: a tenant's lifecycle as an
//! operator runs it (create → rotate a key → suspend → reactivate → delete), each step
//! checked by what the tenant's keys can then do on that running server. (The old
//! `create-tenant` wrote to its own embedded store, so its keys never worked on a server.)

use std::process::Output;

use authkit_tests::lambda_runtime_api::binary_path;
use authkit_tests::local_server::LocalServer;
use serde_json::{json, Value};
use tokio::process::Command;

/// Runs `authkit` against the server, with the token from the file the server wrote.
async fn authkit(server: &LocalServer, args: &[&str]) -> Output {
    Command::new(binary_path("authkit"))
        .arg("--url")
        .arg(&server.url)
        .args(args)
        .env_clear()
        .env("AUTHKIT_OPERATOR_TOKEN_FILE", &server.operator_token_file)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the authkit CLI runs (cargo build --workspace --bins builds it)")
}

/// Its JSON answer, after checking it succeeded.
async fn ok(server: &LocalServer, args: &[&str]) -> Value {
    let output = authkit(server, args).await;
    assert!(
        output.status.success(),
        "authkit {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "authkit {args:?} prints JSON: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

async fn start_status(server: &LocalServer, key: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/start", server.url))
        .header("x-api-key", key)
        .json(&json!({"identifier": "cli@example.com"}))
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

async fn tenant_status(server: &LocalServer, secret: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/v1/tenant", server.url))
        .header("x-api-key", secret)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

fn key<'a>(keys: &'a Value, kind: &str) -> &'a Value {
    keys.as_array()
        .and_then(|keys| keys.iter().find(|key| key["kind"] == kind))
        .unwrap_or_else(|| panic!("a {kind} key in {keys}"))
}

#[tokio::test]
async fn the_cli_runs_a_tenants_lifecycle_against_the_running_local_server() {
    let server = LocalServer::start("127.0.0.1:0").await;
    let banner = server.banner.join("\n");
    assert!(banner.contains("operator token:"), "{banner}");

    let created = ok(
        &server,
        &[
            "tenants",
            "create",
            "--id",
            "acme-cli",
            "--name",
            "Acme",
            "--redirect-uri",
            "https://app.example.com/callback",
            "--origin",
            "https://app.example.com",
        ],
    )
    .await;
    assert_eq!(created["id"], "acme-cli");
    assert_eq!(
        created["allowed_origins"],
        json!(["https://app.example.com"])
    );
    let publishable = key(&created["api_keys"], "publishable")["secret"]
        .as_str()
        .expect("the publishable key, shown once")
        .to_owned();
    let secret = key(&created["api_keys"], "secret");
    let (secret_id, secret_key) = (
        secret["id"].as_str().expect("an id").to_owned(),
        secret["secret"].as_str().expect("shown once").to_owned(),
    );
    assert_eq!(
        start_status(&server, &publishable).await,
        200,
        "the printed key works on the running server"
    );

    let listed = ok(&server, &["keys", "list", "acme-cli"]).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    let rotated = ok(
        &server,
        &["keys", "rotate", "acme-cli", &secret_id, "--overlap", "0"],
    )
    .await;
    assert_eq!(rotated["replaces"]["id"], secret_id.as_str());
    let new_secret = rotated["secret"]
        .as_str()
        .expect("the new key, shown once")
        .to_owned();
    assert_eq!(tenant_status(&server, &new_secret).await, 200);
    assert_eq!(
        tenant_status(&server, &secret_key).await,
        401,
        "no overlap: the old key stops at once"
    );

    let suspended = ok(&server, &["tenants", "suspend", "acme-cli"]).await;
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(start_status(&server, &publishable).await, 403);
    let reactivated = ok(&server, &["tenants", "reactivate", "acme-cli"]).await;
    assert_eq!(reactivated["status"], "active");
    assert_eq!(start_status(&server, &publishable).await, 200);

    let deleted = ok(&server, &["tenants", "delete", "acme-cli"]).await;
    assert_eq!(deleted["status"], "deleted");
    assert_eq!(start_status(&server, &publishable).await, 401);

    let missing = authkit(&server, &["tenants", "get", "acme-cli"]).await;
    assert!(!missing.status.success());
    let problem: Value = serde_json::from_slice(&missing.stderr).unwrap_or_else(|_| {
        panic!(
            "the problem on stderr: {}",
            String::from_utf8_lossy(&missing.stderr)
        )
    });
    assert_eq!(problem["code"], "tenant_not_found");
}
