//! The user pool as AuthKit needs it: create a user for a new identifier, and mark a contact
//! verified once a code has proved it.

use async_trait::async_trait;
use authkit_domain::identifier::Identifier;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};

#[derive(Debug, thiserror::Error)]
#[error("the user pool refused or could not be reached")]
pub struct DirectoryError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Creates a confirmed user named by the identifier, with no usable password and no
    /// welcome message. An existing user is not an error (callers must not learn which).
    async fn create_user(
        &self,
        user_pool_id: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError>;

    /// Sets `email_verified` or `phone_number_verified` after AuthKit verified a code.
    async fn mark_verified(
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
}

fn attribute(name: &str, value: &str) -> Result<AttributeType, DirectoryError> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| DirectoryError(Box::new(e)))
}

fn contact_attribute(identifier: &Identifier) -> &'static str {
    match identifier {
        Identifier::Email(_) => "email",
        Identifier::Phone(_) => "phone_number",
    }
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
            Err(error) => return Err(DirectoryError(Box::new(error.into_service_error()))),
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
            .map_err(|error| DirectoryError(Box::new(error.into_service_error())))?;
        Ok(())
    }

    async fn mark_verified(
        &self,
        user_pool_id: &str,
        username: &str,
        identifier: &Identifier,
    ) -> Result<(), DirectoryError> {
        let name = format!("{}_verified", contact_attribute(identifier));
        self.client
            .admin_update_user_attributes()
            .user_pool_id(user_pool_id)
            .username(username)
            .user_attributes(attribute(&name, "true")?)
            .send()
            .await
            .map_err(|error| DirectoryError(Box::new(error.into_service_error())))?;
        Ok(())
    }
}
