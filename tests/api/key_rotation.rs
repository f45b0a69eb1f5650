//! Rotating the key set in Secrets Manager (in the emulator): a running process picks the
//! new signing key up on its refresh timer, tokens signed before the rotation keep
//! verifying, and a secret whose pepper changed is refused.

use std::time::Duration;

use authkit_domain::tenant::TenantId;
use authkit_domain::token::{
    sign_access_token, verify_access_token, AccessClaims, FamilyId, KeyMaterial,
    KeyMaterialDocument,
};
use authkit_domain::user::UserId;
use authkit_domain::{OsRandomness, Timestamp};
use authkit_keys::{sign_in_keys, KeyError};
use authkit_tests::{emulator_endpoint, emulator_sdk};

const ISSUER: &str = "https://auth.example.com";

fn claims() -> AccessClaims {
    let tenant = TenantId::parse("acme").unwrap();
    AccessClaims {
        iss: ISSUER.to_owned(),
        sub: UserId::generate(&OsRandomness),
        aud: tenant.clone(),
        iat: 1_000,
        nbf: 1_000,
        exp: 1_900,
        jti: "rotation".into(),
        auth_time: 1_000,
        amr: vec!["otp".into(), "email".into()],
        client_id: tenant,
        sid: FamilyId::generate(&OsRandomness),
        device_id: None,
    }
}

fn document(material: &KeyMaterial) -> KeyMaterialDocument {
    serde_json::from_str(&material.to_json()).unwrap()
}

async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    value: &KeyMaterialDocument,
) {
    client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(serde_json::to_string(value).unwrap())
        .send()
        .await
        .expect("a new secret version");
}

#[tokio::test]
async fn a_rotated_key_set_reaches_a_running_process_and_old_tokens_keep_verifying() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let client = aws_sdk_secretsmanager::Client::new(&emulator_sdk(&endpoint).await);
    let secret_id = format!("rotation{}-keys", std::process::id());
    let first = KeyMaterial::generate(&OsRandomness);
    client
        .create_secret()
        .name(&secret_id)
        .secret_string(first.to_json())
        .send()
        .await
        .expect("secret created");
    // The single-secret layout (pepper and signing keys together) of earlier releases.
    let keys = sign_in_keys(
        client.clone(),
        secret_id.clone(),
        None,
        Duration::from_millis(100),
    )
    .await
    .expect("key set loaded");
    let before = sign_access_token(&keys.current().signing, &claims());

    // The runbook's rotation: a new key first (it signs), the previous one kept (published).
    let mut rotated = document(&first);
    let new_key = document(&KeyMaterial::generate(&OsRandomness))
        .signing_keys
        .remove(0);
    let new_kid = new_key.kid.clone();
    rotated.signing_keys.insert(0, new_key);
    put_secret(&client, &secret_id, &rotated).await;

    let mut waited = Duration::ZERO;
    while keys.current().signing.current().kid() != new_kid {
        assert!(
            waited < Duration::from_secs(10),
            "the refresh timer never picked the new key up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let current = keys.current();
    let acme = TenantId::parse("acme").unwrap();
    let now = Timestamp(1_100);
    let after = sign_access_token(&current.signing, &claims());
    assert!(verify_access_token(&current.signing, &after, ISSUER, &acme, now).is_ok());
    assert!(
        verify_access_token(&current.signing, &before, ISSUER, &acme, now).is_ok(),
        "a token signed before the rotation still verifies"
    );
    assert_eq!(
        current.signing.jwks().keys.len(),
        2,
        "both keys are published"
    );

    let mut new_pepper = document(&KeyMaterial::generate(&OsRandomness));
    new_pepper.signing_keys = rotated.signing_keys;
    put_secret(&client, &secret_id, &new_pepper).await;
    assert!(matches!(
        keys.refresh().await,
        Err(KeyError::PepperChanged(id)) if id == secret_id
    ));
    assert_eq!(
        keys.current().pepper.expose(),
        first.pepper.expose(),
        "the pepper every stored hash depends on is kept"
    );
}
