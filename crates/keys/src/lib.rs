//! Key material for AuthKit: the JWT signing key set and the pepper, from AWS Secrets
//! Manager (the signing keys refreshed on a timer, so a rotation reaches running functions;
//! the pepper, which never changes, in a secret of its own that only the functions hashing
//! secrets may read) or from a local key file that the embedded default creates on first
//! run.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use authkit_domain::secret::Pepper;
use authkit_domain::service::{KeySource, PublicKeys};
use authkit_domain::token::{Jwks, KeyMaterial, KeySet, KeySetError};
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
    #[error("secret `{0}` carries a different pepper; every stored hash depends on it, so the key set is refused")]
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

/// Parses (and validates) a secret's value.
type Reader<T> = Box<dyn Fn(&str) -> Result<T, KeySetError> + Send + Sync>;

/// A value read from a Secrets Manager secret and re-read every `refresh_every`, so a key
/// rotation reaches running functions. A re-read that fails to parse or validate keeps the
/// current value and is logged.
pub struct RefreshingSecret<T> {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    read: Reader<T>,
    current: RwLock<Arc<T>>,
}

impl<T: Send + Sync + 'static> RefreshingSecret<T> {
    /// Reads the secret once (cold start) and starts the refresh timer.
    async fn load(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        refresh_every: Duration,
        read: Reader<T>,
    ) -> Result<Arc<RefreshingSecret<T>>, KeyError> {
        let raw = secret_string(&client, &secret_id).await?;
        let first = read(&raw).map_err(|source| invalid(&secret_id, source))?;
        let secret = Arc::new(RefreshingSecret {
            client,
            secret_id,
            read,
            current: RwLock::new(Arc::new(first)),
        });
        let weak = Arc::downgrade(&secret);
        tokio::spawn(async move {
            let mut timer = tokio::time::interval(refresh_every);
            timer.tick().await;
            loop {
                timer.tick().await;
                let Some(secret) = weak.upgrade() else { return };
                if let Err(error) = secret.refresh().await {
                    tracing::error!(error = %error, "key refresh failed; keeping the current keys");
                }
            }
        });
        Ok(secret)
    }

    /// Re-reads the secret now.
    pub async fn refresh(&self) -> Result<(), KeyError> {
        let raw = secret_string(&self.client, &self.secret_id).await?;
        let fresh = (self.read)(&raw).map_err(|source| invalid(&self.secret_id, source))?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    pub fn current(&self) -> Arc<T> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// What a function that hashes secrets needs: the signing keys from `keys_secret`,
/// refreshed, and the pepper — read once from `pepper_secret`, or from the key secret
/// itself in the single-secret layout. A refreshed key secret that carries a different
/// pepper is refused: every stored hash depends on it.
pub async fn sign_in_keys(
    client: aws_sdk_secretsmanager::Client,
    keys_secret: String,
    pepper_secret: Option<String>,
    refresh_every: Duration,
) -> Result<Arc<RefreshingSecret<KeyMaterial>>, KeyError> {
    let pepper_origin = pepper_secret.as_deref().unwrap_or(&keys_secret).to_owned();
    let pepper = Pepper::from_json(&secret_string(&client, &pepper_origin).await?)
        .map_err(|source| invalid(&pepper_origin, source))?;
    let read = move |raw: &str| KeyMaterial::with_pepper(raw, pepper.clone());
    RefreshingSecret::load(client, keys_secret, refresh_every, Box::new(read)).await
}

/// What the discovery function needs: the signing keys alone, refreshed.
pub async fn published_keys(
    client: aws_sdk_secretsmanager::Client,
    keys_secret: String,
    refresh_every: Duration,
) -> Result<Arc<RefreshingSecret<KeySet>>, KeyError> {
    RefreshingSecret::load(
        client,
        keys_secret,
        refresh_every,
        Box::new(KeySet::from_json),
    )
    .await
}

impl KeySource for RefreshingSecret<KeyMaterial> {
    fn current(&self) -> Arc<KeyMaterial> {
        RefreshingSecret::current(self)
    }
}

impl PublicKeys for RefreshingSecret<KeySet> {
    fn jwks(&self) -> Jwks {
        self.current().jwks()
    }
}

fn invalid(secret_id: &str, source: KeySetError) -> KeyError {
    match source {
        KeySetError::PepperMismatch => KeyError::PepperChanged(secret_id.to_owned()),
        source => KeyError::Invalid {
            origin: format!("secret {secret_id}"),
            source,
        },
    }
}

async fn secret_string(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, KeyError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|error| KeyError::SecretsManager {
            secret_id: secret_id.to_owned(),
            source: Box::new(error.into_service_error()),
        })?;
    output
        .secret_string()
        .map(str::to_owned)
        .ok_or_else(|| KeyError::NotAString(secret_id.to_owned()))
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
