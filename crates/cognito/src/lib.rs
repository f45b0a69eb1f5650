//! Amazon Cognito CUSTOM_AUTH over AuthKit: apps keep their user pool and its tokens, and
//! users prove themselves with AuthKit codes or magic links, as a first factor.
//!
//! Cognito drives the flow: DefineAuthChallenge decides the next step from the session,
//! CreateAuthChallenge sends (or reuses) a challenge, VerifyAuthChallengeResponse checks the
//! answer through the store's atomic verify. PreSignUp refuses public sign-up; AuthKit's
//! routes ([`cognito_routes`]) create users and add proven contacts. Handlers are plain
//! async functions over typed events, so tests call them directly and the Lambda
//! binaries are three lines each.

mod add_contact;
mod contacts;
mod directory;
mod routes;
mod sign_up;
mod triggers;

pub use add_contact::{AddContactRequest, VerifyContactRequest};
pub use directory::{CognitoDirectory, DirectoryError, PoolUser, UserDirectory};
pub use routes::{cognito_routes, ServedPool};
pub use sign_up::SignUpRequest;
pub use triggers::{
    create_auth_challenge, define_auth_challenge, pre_sign_up, verify_auth_challenge, TriggerError,
    Triggers,
};

/// The prefix of `challengeMetadata` that names AuthKit's challenge for a round.
pub const CHALLENGE_METADATA_PREFIX: &str = "AUTHKIT:";
/// The prefix of `challengeMetadata` that carries a decoy's state (a user that does not
/// exist). Cognito keeps it in the session and never shows it to the client.
pub const DECOY_METADATA_PREFIX: &str = "AUTHKIT-DECOY:";
/// Cognito's only custom challenge name.
pub const CUSTOM_CHALLENGE: &str = "CUSTOM_CHALLENGE";
