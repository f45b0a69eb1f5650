//! The real `authkit-local` binary, started as a newcomer starts it (a clean environment,
//! a port the system picks), with what its banner printed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::lambda_runtime_api::binary_path;

pub struct LocalServer {
    pub url: String,
    pub publishable_key: String,
    /// The banner's "try it" lines, as printed.
    pub try_lines: Vec<String>,
    /// The whole banner.
    pub banner: Vec<String>,
    /// Where the server wrote its operator token.
    pub operator_token_file: PathBuf,
    _process: Child,
    _scratch: tempfile::TempDir,
}

impl LocalServer {
    /// Starts the binary with a clean environment (embedded store, dev outbox) and reads
    /// its banner.
    pub async fn start(listen: &str) -> LocalServer {
        let scratch = tempfile::tempdir().expect("a temp dir");
        let operator_token_file = scratch.path().join("operator-token");
        let mut process = Command::new(binary_path("authkit-local"))
            .args(["--listen", listen])
            .env_clear()
            .env("AUTHKIT_KEY_FILE", scratch.path().join("keys.json"))
            .env("AUTHKIT_OPERATOR_TOKEN_FILE", &operator_token_file)
            .env("AUTHKIT_OUTBOX_QUIET", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("authkit-local starts (cargo build --workspace --bins builds it)");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        let read_banner = async {
            // The banner ends with the "try it" lines and a blank line.
            let mut in_try = false;
            while let Some(line) = lines.next_line().await.expect("stdout reads") {
                if in_try && line.trim().is_empty() {
                    break;
                }
                in_try |= line.contains("try it");
                banner.push(line);
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read_banner)
            .await
            .expect("the banner within 30 s");
        let value_after = |marker: &str| {
            banner
                .iter()
                .find_map(|line| line.split_once(marker))
                .map(|(_, value)| value.trim().to_owned())
                .unwrap_or_else(|| panic!("no `{marker}` in the banner: {banner:#?}"))
        };
        let url = value_after("AuthKit is running at ");
        let publishable_key = value_after("publishable key:");
        let try_lines = banner
            .iter()
            .skip_while(|line| !line.contains("try it"))
            .skip(1)
            .map(|line| line.trim().to_owned())
            .collect();
        LocalServer {
            url,
            publishable_key,
            try_lines,
            banner,
            operator_token_file,
            _process: process,
            _scratch: scratch,
        }
    }
}
