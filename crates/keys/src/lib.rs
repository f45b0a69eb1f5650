//! Key material for AuthKit: the JWT signing key set and the pepper, from AWS Secrets
//! Manager (refreshed on a timer, so a rotation reaches running functions) or from a local
//! key file that the embedded default creates on first run.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use authkit_domain::service::KeySource;
use authkit_domain::token::{KeyMaterial, KeySetError};
use authkit_domain::Randomness;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key file `{path}` cannot be read or written")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the key material in `{origin}` is invalid")]
    Invalid {
        origin: String,
        #[source]
        source: KeySetError,
    },
    #[error("secret `{secret_id}` cannot be read from Secrets Manager")]
    SecretsManager {
        secret_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret `{0}` has no string value")]
    NotAString(String),
    #[error("the pepper in secret `{0}` changed; every stored hash depends on it, so the new key set is refused")]
    PepperChanged(String),
}

/// The embedded default: reads the key file, or creates it (mode 0600) with fresh material.
pub fn load_or_create_key_file(
    path: &Path,
    random: &dyn Randomness,
) -> Result<KeyMaterial, KeyError> {
    let file_error = |source| KeyError::File {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(raw) => KeyMaterial::from_json(&raw).map_err(|source| KeyError::Invalid {
            origin: path.display().to_string(),
            source,
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let material = KeyMaterial::generate(random);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(file_error)?;
            }
            write_private(path, material.to_json().as_bytes()).map_err(file_error)?;
            tracing::info!(path = %path.display(), "created a new local key set");
            Ok(material)
        }
        Err(error) => Err(file_error(error)),
    }
}

/// Writes a file only its owner can read: it holds private keys and the pepper.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// Key material from a Secrets Manager secret, re-read every `refresh_every`.
pub struct SecretsManagerKeys {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    current: RwLock<Arc<KeyMaterial>>,
}

impl SecretsManagerKeys {
    /// Reads the secret once (cold start) and starts the refresh timer.
    pub async fn load(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        refresh_every: Duration,
    ) -> Result<Arc<SecretsManagerKeys>, KeyError> {
        let material = fetch(&client, &secret_id).await?;
        let keys = Arc::new(SecretsManagerKeys {
            client,
            secret_id,
            current: RwLock::new(Arc::new(material)),
        });
        let weak = Arc::downgrade(&keys);
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(refresh_every);
            timer.tick().await;
            loop {
                timer.tick().await;
                let Some(keys) = weak.upgrade() else { return };
                if let Err(error) = keys.refresh().await {
                    tracing::error!(error = %error, "key refresh failed; keeping the current key set");
                }
            }
        });
        Ok(keys)
    }

    /// Re-reads the secret. New signing keys are taken; a changed pepper is refused,
    /// because every stored hash depends on it.
    pub async fn refresh(&self) -> Result<(), KeyError> {
        let fresh = fetch(&self.client, &self.secret_id).await?;
        if fresh.pepper.expose() != self.current().pepper.expose() {
            return Err(KeyError::PepperChanged(self.secret_id.clone()));
        }
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(fresh);
        Ok(())
    }
}

impl KeySource for SecretsManagerKeys {
    fn current(&self) -> Arc<KeyMaterial> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<KeyMaterial, KeyError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|error| KeyError::SecretsManager {
            secret_id: secret_id.to_owned(),
            source: Box::new(error.into_service_error()),
        })?;
    let raw = output
        .secret_string()
        .ok_or_else(|| KeyError::NotAString(secret_id.to_owned()))?;
    KeyMaterial::from_json(raw).map_err(|source| KeyError::Invalid {
        origin: format!("secret {secret_id}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use authkit_domain::OsRandomness;

    #[test]
    fn a_key_file_is_created_once_private_and_reloaded_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/keys.json");
        let created = load_or_create_key_file(&path, &OsRandomness).unwrap();
        let reloaded = load_or_create_key_file(&path, &OsRandomness).unwrap();
        assert_eq!(created.signing.jwks().keys, reloaded.signing.jwks().keys);
        assert_eq!(created.pepper.expose(), reloaded.pepper.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, "{}").unwrap();
        let error = load_or_create_key_file(&path, &OsRandomness)
            .err()
            .expect("refused");
        assert!(error.to_string().contains("keys.json"), "{error}");
    }
}
