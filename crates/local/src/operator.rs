//! The local server's operator token: what `/admin/v1` takes here instead of IAM. A fresh
//! one each start, printed in the banner and written (mode 0600) to a file the `authkit`
//! CLI reads, so nobody copies it by hand.

use std::path::{Path, PathBuf};

use authkit_domain::secret::OpaqueSecret;
use authkit_domain::OsRandomness;

/// Where the token goes unless `AUTHKIT_OPERATOR_TOKEN_FILE` says otherwise.
pub const DEFAULT_TOKEN_FILE: &str = ".authkit/operator-token";

/// `akop_` and 256 random bits.
pub struct OperatorToken(OpaqueSecret);

impl OperatorToken {
    pub fn reveal(&self) -> String {
        format!("akop_{}", self.0.expose())
    }
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(***)")
    }
}

/// `AUTHKIT_OPERATOR_TOKEN_FILE`, or the default next to the key file's.
pub fn token_file() -> PathBuf {
    std::env::var("AUTHKIT_OPERATOR_TOKEN_FILE")
        .ok()
        .filter(|path| !path.trim().is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_TOKEN_FILE), PathBuf::from)
}

/// A new token, written to `path` readable by its owner only.
pub fn issue(path: &Path) -> Result<OperatorToken, String> {
    let token = OperatorToken(OpaqueSecret::generate(&OsRandomness));
    let failed = |error: std::io::Error| {
        format!(
            "cannot write the operator token to {}: {error}",
            path.display()
        )
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    write_private(path, &token.reveal()).map_err(failed)?;
    Ok(token)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{contents}\n"))
}
