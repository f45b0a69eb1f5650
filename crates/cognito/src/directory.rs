//! The user pool as AuthKit needs it: create a user for a new identifier, learn who holds
//! an access token, and record a contact as verified once a code has proved it.

use std::collections::HashMap;

use async_trait::async_trait;
use authkit_domain::identifier::Identifier;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use base64::Engine;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The pool keeps emails and phone numbers unique (they are usernames).
    #[error("the contact already belongs to another user of the pool")]
    ContactTaken,
    #[error("the user pool refused or could not be reached")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> DirectoryError {
    DirectoryError::Unavailable(Box::new(error))
}

/// A user as the pool describes it: its username (a UUID in a pool that signs in by email
/// and phone number) and attributes.
#[derive(Debug, Clone)]
pub struct PoolUser {
    pub username: String,
    pub attributes: HashMap<String, String>,
}

#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Creates a confirmed user named by the identifier, with no usable password and no
    /// welcome message. An existing user is not an error (callers must not learn which).
    async fn create_user(
        &self,
        user_pool_id: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError>;

    /// The user of `user_pool_id` an access token belongs to, as the pool itself judges
    /// the token (signature, expiry, revocation, a disabled user). None when the pool
    /// refuses it or it is another pool's.
    async fn user_for_access_token(
        &self,
        user_pool_id: &str,
        access_token: &str,
    ) -> Result<Option<PoolUser>, DirectoryError>;

    /// Sets `email_verified` or `phone_number_verified` after AuthKit verified a code sent
    /// to the user's existing contact.
    async fn mark_verified(
        &self,
        user_pool_id: &str,
        username: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError>;

    /// Sets the contact (replacing the user's previous one of that kind) and marks it
    /// verified, after AuthKit verified a code sent to it.
    async fn set_verified_contact(
        &self,
        user_pool_id: &str,
        username: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError>;
}

/// The pool is named per call: triggers learn it from their event, so the functions need
/// no configuration naming the pool (which would be a Terraform cycle).
pub struct CognitoDirectory {
    client: aws_sdk_cognitoidentityprovider::Client,
}

impl CognitoDirectory {
    pub fn new(client: aws_sdk_cognitoidentityprovider::Client) -> CognitoDirectory {
        CognitoDirectory { client }
    }

    async fn update_attributes(
        &self,
        user_pool_id: &str,
        username: &str,
        attributes: Vec<AttributeType>,
    ) -> Result<(), DirectoryError> {
        let updated = self
            .client
            .admin_update_user_attributes()
            .user_pool_id(user_pool_id)
            .username(username)
            .set_user_attributes(Some(attributes))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_alias_exists_exception()) =>
            {
                Err(DirectoryError::ContactTaken)
            }
            Err(error) => Err(unavailable(error.into_service_error())),
        }
    }
}

fn attribute(name: &str, value: &str) -> Result<AttributeType, DirectoryError> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(unavailable)
}

fn contact_attribute(identifier: &Identifier) -> &'static str {
    match identifier {
        Identifier::Email(_) => "email",
        Identifier::Phone(_) => "phone_number",
    }
}

/// Whether an access token was issued by `user_pool_id`. GetUser accepts any pool's valid
/// token in the region, and usernames are unique only within a pool: without this, a
/// token for "jane" in someone else's pool would act on "jane" in this one. The claims
/// are read, not verified; GetUser verifies the same token.
fn issued_by(access_token: &str, user_pool_id: &str) -> bool {
    let claims = access_token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
    claims.is_some_and(|claims| {
        claims["token_use"] == "access"
            && claims["iss"]
                .as_str()
                .and_then(|iss| iss.rsplit_once('/'))
                .is_some_and(|(_, pool)| pool == user_pool_id)
    })
}

#[async_trait]
impl UserDirectory for CognitoDirectory {
    async fn create_user(
        &self,
        user_pool_id: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError> {
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(user_pool_id)
            .username(identifier.as_str())
            .user_attributes(attribute(
                contact_attribute(identifier),
                identifier.as_str(),
            )?)
            // No invitation: the first AuthKit code is the welcome.
            .message_action(MessageActionType::Suppress)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_username_exists_exception()) =>
            {
                return Ok(())
            }
            Err(error) => return Err(unavailable(error.into_service_error())),
        }
        // A random permanent password nobody knows moves the user out of
        // FORCE_CHANGE_PASSWORD; the app client allows CUSTOM_AUTH only, so it is unusable.
        let mut bytes = [0u8; 30];
        authkit_domain::Randomness::fill(&authkit_domain::OsRandomness, &mut bytes);
        let password = format!(
            "Ak1!{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        self.client
            .admin_set_user_password()
            .user_pool_id(user_pool_id)
            .username(identifier.as_str())
            .password(password)
            .permanent(true)
            .send()
            .await
            .map_err(|error| unavailable(error.into_service_error()))?;
        Ok(())
    }

    async fn user_for_access_token(
        &self,
        user_pool_id: &str,
        access_token: &str,
    ) -> Result<Option<PoolUser>, DirectoryError> {
        if !issued_by(access_token, user_pool_id) {
            return Ok(None);
        }
        let user = match self
            .client
            .get_user()
            .access_token(access_token)
            .send()
            .await
        {
            Ok(user) => user,
            Err(error)
                if error.as_service_error().is_some_and(|e| {
                    e.is_not_authorized_exception()
                        || e.is_user_not_found_exception()
                        || e.is_user_not_confirmed_exception()
                        || e.is_password_reset_required_exception()
                }) =>
            {
                return Ok(None)
            }
            Err(error) => return Err(unavailable(error.into_service_error())),
        };
        Ok(Some(PoolUser {
            username: user.username().to_owned(),
            attributes: user
                .user_attributes()
                .iter()
                .map(|a| {
                    (
                        a.name().to_owned(),
                        a.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        }))
    }

    async fn mark_verified(
        &self,
        user_pool_id: &str,
        username: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError> {
        let name = format!("{}_verified", contact_attribute(identifier));
        self.update_attributes(user_pool_id, username, vec![attribute(&name, "true")?])
            .await
    }

    async fn set_verified_contact(
        &self,
        user_pool_id: &str,
        username: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError> {
        let name = contact_attribute(identifier);
        let attributes = vec![
            attribute(name, identifier.as_str())?,
            attribute(&format!("{name}_verified"), "true")?,
        ];
        self.update_attributes(user_pool_id, username, attributes)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: serde_json::Value) -> String {
        let encode = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.signature",
            encode(br#"{"alg":"RS256"}"#),
            encode(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn only_access_tokens_of_this_pool_are_taken_to_the_pool() {
        let iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Mine";
        let mine = token(serde_json::json!({"iss": iss, "token_use": "access"}));
        assert!(issued_by(&mine, "us-east-1_Mine"));
        assert!(!issued_by(&mine, "us-east-1_Other"));
        let id_token = token(serde_json::json!({"iss": iss, "token_use": "id"}));
        assert!(!issued_by(&id_token, "us-east-1_Mine"));
        assert!(!issued_by("not-a-token", "us-east-1_Mine"));
    }
}
