//! The real `authkit-local` binary as a newcomer runs it.

use std::time::Duration;

use authkit_tests::lambda_runtime_api::binary_path;
use tokio::process::Command;

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
            stdout.starts_with("usage:") && stdout.contains("create-tenant"),
            "{args:?}: {stdout}"
        );
    }
}
