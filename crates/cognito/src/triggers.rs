//! The three CUSTOM_AUTH triggers and PreSignUp.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use authkit_domain::identifier::{Channel, Identifier};
use authkit_domain::service::{Caller, RequestedKind, StartRequest, StartedChallenge};
use authkit_domain::tenant::Tenant;
use authkit_domain::{AuthError, AuthKit};
use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsChallengeResult, CognitoEventUserPoolsCreateAuthChallenge,
    CognitoEventUserPoolsDefineAuthChallenge, CognitoEventUserPoolsPreSignup,
    CognitoEventUserPoolsVerifyAuthChallenge,
};

use crate::directory::UserDirectory;
use crate::{CHALLENGE_METADATA_PREFIX, CUSTOM_CHALLENGE};

/// Cognito waits 5 seconds for a trigger; answering in 4 leaves room for the runtime, so a
/// slow provider ends the round with an error instead of a timeout.
const DEADLINE: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("the user has no email or phone number AuthKit can reach")]
    NoContact,
    #[error("clientMetadata `{key}` has an unsupported value")]
    BadMetadata { key: &'static str },
    #[error("the session is not one AuthKit created: {0}")]
    UnexpectedSession(String),
    #[error("privateChallengeParameters has no challenge_id")]
    MissingChallengeId,
    #[error("the sign-in could not be started or checked")]
    Domain(#[from] AuthError),
    #[error("AuthKit did not answer within the trigger deadline")]
    Deadline,
    #[error("the user pool could not be updated")]
    Directory(#[from] crate::directory::DirectoryError),
}

impl TriggerError {
    /// A stable name for what went wrong, reported to Lambda as the `errorType` (alarms and
    /// dashboards group by it): the event was unusable, a limit held, or a dependency failed.
    pub fn error_type(&self) -> &'static str {
        match self {
            TriggerError::NoContact
            | TriggerError::BadMetadata { .. }
            | TriggerError::UnexpectedSession(_)
            | TriggerError::MissingChallengeId => "InvalidEvent",
            TriggerError::Deadline => "Deadline",
            TriggerError::Directory(_) => "UserPool",
            TriggerError::Domain(error) => match error {
                AuthError::Unavailable(_) => "Store",
                AuthError::DeliveryFailed { .. } => "Delivery",
                AuthError::RateLimited(_)
                | AuthError::IdentifierLocked { .. }
                | AuthError::ResendTooSoon { .. }
                | AuthError::ResendLimitReached => "RateLimited",
                AuthError::TenantNotFound => "Configuration",
                AuthError::InvalidIdentifier(_)
                | AuthError::MalformedChallengeId
                | AuthError::RedirectNotAllowed
                | AuthError::RedirectRequired
                | AuthError::ChannelUnavailable(_) => "InvalidEvent",
                _ => "SignInRefused",
            },
        }
    }
}

/// What the create and verify triggers share, built once per cold start.
pub struct Triggers {
    pub authkit: Arc<AuthKit>,
    /// The tenant whose policy, templates and limits Cognito sign-ins use.
    pub tenant: Tenant,
    pub directory: Option<Arc<dyn UserDirectory>>,
}

impl Triggers {
    fn caller(&self) -> Caller<'_> {
        Caller {
            tenant: &self.tenant,
            ip: None,
        }
    }
}

async fn within_deadline<T>(
    work: impl std::future::Future<Output = Result<T, AuthError>>,
) -> Result<T, TriggerError> {
    tokio::time::timeout(DEADLINE, work)
        .await
        .map_err(|_| TriggerError::Deadline)?
        .map_err(TriggerError::from)
}

/// The state machine. Tokens are issued only when every round so far was AuthKit's custom
/// challenge and the last answer was right; anything else Cognito might put in the session
/// (SRP or password steps, unknown names, a user that does not exist) fails the sign-in.
pub fn define_auth_challenge(
    max_rounds: u32,
    mut event: CognitoEventUserPoolsDefineAuthChallenge,
) -> CognitoEventUserPoolsDefineAuthChallenge {
    let decision = decide(
        max_rounds,
        event.request.user_not_found,
        &event.request.session,
    );
    event.response.issue_tokens = decision == Decision::IssueTokens;
    event.response.fail_authentication = decision == Decision::Fail;
    event.response.challenge_name =
        (decision == Decision::Challenge).then(|| CUSTOM_CHALLENGE.to_owned());
    tracing::info!(outcome = ?decision, rounds = event.request.session.len(), "define auth challenge");
    event
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Challenge,
    IssueTokens,
    Fail,
}

pub(crate) fn decide(
    max_rounds: u32,
    user_not_found: bool,
    session: &[Option<CognitoEventUserPoolsChallengeResult>],
) -> Decision {
    if user_not_found {
        return Decision::Fail;
    }
    let all_custom = session.iter().all(|round| {
        round
            .as_ref()
            .is_some_and(|r| r.challenge_name.as_deref() == Some(CUSTOM_CHALLENGE))
    });
    if !all_custom || session.len() > max_rounds as usize {
        return Decision::Fail;
    }
    match session.last() {
        None => Decision::Challenge,
        Some(Some(last)) if last.challenge_result => Decision::IssueTokens,
        Some(_) if session.len() >= max_rounds as usize => Decision::Fail,
        Some(_) => Decision::Challenge,
    }
}

/// Sends a code or a magic link on the first round; on later rounds reuses the live
/// challenge (no second message) unless `clientMetadata.resend` is `"true"`.
pub async fn create_auth_challenge(
    triggers: &Triggers,
    mut event: CognitoEventUserPoolsCreateAuthChallenge,
) -> Result<CognitoEventUserPoolsCreateAuthChallenge, TriggerError> {
    let request = &event.request;
    if request.user_not_found {
        // Define fails these sign-ins; should Cognito still ask, answer without sending.
        event.response.public_challenge_parameters =
            HashMap::from([("channel".to_owned(), "email".to_owned())]);
        event.response.private_challenge_parameters = HashMap::new();
        return Ok(event);
    }
    if request
        .challenge_name
        .as_deref()
        .is_some_and(|name| name != CUSTOM_CHALLENGE)
    {
        return Err(TriggerError::UnexpectedSession(format!(
            "challenge {:?}",
            request.challenge_name
        )));
    }
    let metadata = &request.client_metadata;
    let previous = request.session.iter().rev().flatten().find_map(|round| {
        round
            .challenge_metadata
            .as_deref()?
            .strip_prefix(CHALLENGE_METADATA_PREFIX)
            .map(str::to_owned)
    });
    let resend = matches!(metadata.get("resend").map(String::as_str), Some("true"));

    let started = match previous {
        Some(id) if resend => {
            within_deadline(triggers.authkit.resend(triggers.caller(), &id)).await?
        }
        Some(id) => {
            match within_deadline(triggers.authkit.live_challenge(triggers.caller(), &id)).await {
                Ok(live) => live,
                // Expired or used up: a fresh challenge (rate limits still apply).
                Err(TriggerError::Domain(
                    AuthError::ChallengeExpired
                    | AuthError::ChallengeExhausted
                    | AuthError::ChallengeUsed,
                )) => start(triggers, &request.user_attributes, metadata).await?,
                Err(other) => return Err(other),
            }
        }
        None => start(triggers, &request.user_attributes, metadata).await?,
    };
    event.response.public_challenge_parameters = public_parameters(&started);
    event.response.private_challenge_parameters =
        HashMap::from([("challenge_id".to_owned(), started.id.to_string())]);
    event.response.challenge_metadata = Some(format!("{CHALLENGE_METADATA_PREFIX}{}", started.id));
    Ok(event)
}

async fn start(
    triggers: &Triggers,
    attributes: &HashMap<String, String>,
    metadata: &HashMap<String, String>,
) -> Result<StartedChallenge, TriggerError> {
    let channel = match metadata.get("channel").map(String::as_str) {
        None => None,
        Some("email") => Some(Channel::Email),
        Some("sms") => Some(Channel::Sms),
        Some("whatsapp") => Some(Channel::Whatsapp),
        Some(_) => return Err(TriggerError::BadMetadata { key: "channel" }),
    };
    let kind = match metadata.get("kind").map(String::as_str) {
        None | Some("code") => RequestedKind::Code,
        Some("magic_link") => RequestedKind::MagicLink,
        Some(_) => return Err(TriggerError::BadMetadata { key: "kind" }),
    };
    let identifier = contact(attributes, channel)?;
    let request = StartRequest {
        identifier: &identifier,
        channel,
        kind,
        redirect_uri: metadata.get("redirectUri").map(String::as_str),
    };
    within_deadline(triggers.authkit.start_sign_in(triggers.caller(), request)).await
}

/// The address to send to: the one the channel needs, else email before phone. An
/// unverified contact is allowed — proving it is exactly what the code does — and marked
/// verified after a right answer.
fn contact(
    attributes: &HashMap<String, String>,
    channel: Option<Channel>,
) -> Result<String, TriggerError> {
    let email = attributes.get("email").filter(|v| !v.is_empty());
    let phone = attributes.get("phone_number").filter(|v| !v.is_empty());
    let chosen = match channel {
        Some(Channel::Email) => email,
        Some(Channel::Sms | Channel::Whatsapp) => phone,
        None => email.or(phone),
    };
    chosen.cloned().ok_or(TriggerError::NoContact)
}

/// Only what a sign-in screen shows. Never the code, never the challenge id.
fn public_parameters(started: &StartedChallenge) -> HashMap<String, String> {
    HashMap::from([
        ("channel".to_owned(), started.channel.as_str().to_owned()),
        ("kind".to_owned(), started.kind.as_str().to_owned()),
        ("destination".to_owned(), started.masked_destination.clone()),
        ("expires_at".to_owned(), started.expires_at.0.to_string()),
    ])
}

/// Judges the answer with the store's single atomic verify: a code, or the one-time result
/// a confirmed magic link redirected with (`<challenge id>.<secret>`).
pub async fn verify_auth_challenge(
    triggers: &Triggers,
    mut event: CognitoEventUserPoolsVerifyAuthChallenge,
) -> Result<CognitoEventUserPoolsVerifyAuthChallenge, TriggerError> {
    let request = &event.request;
    if request.user_not_found {
        event.response.answer_correct = false;
        return Ok(event);
    }
    let challenge_id = request
        .private_challenge_parameters
        .get("challenge_id")
        .ok_or(TriggerError::MissingChallengeId)?
        .clone();
    let answer = match &request.challenge_answer {
        Some(serde_json::Value::String(answer)) => answer.clone(),
        _ => String::new(),
    };
    let verified = if answer.starts_with("ch_") && answer.contains('.') {
        within_deadline(triggers.authkit.exchange_result(triggers.caller(), &answer)).await
    } else {
        within_deadline(
            triggers
                .authkit
                .verify_answer(triggers.caller(), &challenge_id, &answer),
        )
        .await
    };
    let correct = match verified {
        Ok(verified) => {
            mark_contact_verified(triggers, &event, &verified.challenge.identifier).await?;
            true
        }
        Err(TriggerError::Domain(
            AuthError::WrongAnswer { .. }
            | AuthError::MalformedAnswer
            | AuthError::ChallengeExpired
            | AuthError::ChallengeExhausted
            | AuthError::ChallengeUsed
            | AuthError::ChallengeNotFound
            | AuthError::MalformedChallengeId
            | AuthError::InvalidSignInResult,
        )) => false,
        Err(other) => return Err(other),
    };
    tracing::info!(
        outcome = if correct { "verified" } else { "wrong_code" },
        "verify auth challenge"
    );
    event.response.answer_correct = correct;
    Ok(event)
}

async fn mark_contact_verified(
    triggers: &Triggers,
    event: &CognitoEventUserPoolsVerifyAuthChallenge,
    identifier: &Identifier,
) -> Result<(), TriggerError> {
    let attribute = match identifier {
        Identifier::Email(_) => "email_verified",
        Identifier::Phone(_) => "phone_number_verified",
    };
    let already = event
        .request
        .user_attributes
        .get(attribute)
        .is_some_and(|v| v == "true");
    let header = &event.cognito_event_user_pools_header;
    if let (false, Some(directory), Some(pool), Some(username)) = (
        already,
        &triggers.directory,
        header.user_pool_id.as_deref(),
        header.user_name.as_deref(),
    ) {
        directory
            .mark_verified(pool, username, identifier)
            .await
            .map_err(|error| {
                tracing::error!(error = ?error, "marking the contact verified failed");
                error
            })?;
    }
    Ok(())
}

/// Confirms users created for passwordless sign-in without verifying any contact: a
/// contact becomes verified only when an AuthKit code proves it.
pub fn pre_sign_up(mut event: CognitoEventUserPoolsPreSignup) -> CognitoEventUserPoolsPreSignup {
    event.response.auto_confirm_user = true;
    event.response.auto_verify_email = false;
    event.response.auto_verify_phone = false;
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round(name: &str, result: bool) -> Option<CognitoEventUserPoolsChallengeResult> {
        let mut round = CognitoEventUserPoolsChallengeResult::default();
        round.challenge_name = Some(name.to_owned());
        round.challenge_result = result;
        Some(round)
    }

    #[test]
    fn the_state_machine_follows_the_documented_table() {
        assert_eq!(decide(3, false, &[]), Decision::Challenge);
        assert_eq!(
            decide(3, false, &[round(CUSTOM_CHALLENGE, true)]),
            Decision::IssueTokens
        );
        assert_eq!(
            decide(3, false, &[round(CUSTOM_CHALLENGE, false)]),
            Decision::Challenge
        );
        assert_eq!(
            decide(
                3,
                false,
                &[
                    round(CUSTOM_CHALLENGE, false),
                    round(CUSTOM_CHALLENGE, false),
                    round(CUSTOM_CHALLENGE, false)
                ]
            ),
            Decision::Fail
        );
        assert_eq!(
            decide(
                3,
                false,
                &[
                    round(CUSTOM_CHALLENGE, false),
                    round(CUSTOM_CHALLENGE, true)
                ]
            ),
            Decision::IssueTokens
        );
        assert_eq!(decide(3, false, &[round("SRP_A", true)]), Decision::Fail);
        assert_eq!(
            decide(
                3,
                false,
                &[
                    round("PASSWORD_VERIFIER", true),
                    round(CUSTOM_CHALLENGE, true)
                ]
            ),
            Decision::Fail
        );
        assert_eq!(decide(3, false, &[None]), Decision::Fail);
        assert_eq!(decide(3, true, &[]), Decision::Fail);
    }

    fn any_round() -> impl Strategy<Value = Option<CognitoEventUserPoolsChallengeResult>> {
        prop_oneof![
            8 => (any::<bool>()).prop_map(|r| round(CUSTOM_CHALLENGE, r)),
            1 => (prop_oneof![Just("SRP_A"), Just("PASSWORD_VERIFIER"), Just("SMS_MFA"), Just("custom_challenge")], any::<bool>()).prop_map(|(n, r)| round(n, r)),
            1 => Just(None),
        ]
    }

    proptest! {
        #[test]
        fn tokens_only_follow_a_right_answer_in_an_all_custom_session_within_the_limit(
            max_rounds in 1u32..6,
            user_not_found in any::<bool>(),
            session in proptest::collection::vec(any_round(), 0..8),
        ) {
            let decision = decide(max_rounds, user_not_found, &session);
            if decision == Decision::IssueTokens {
                prop_assert!(!user_not_found);
                prop_assert!(session.len() <= max_rounds as usize);
                prop_assert!(session.iter().all(|r| r.as_ref().is_some_and(|r| r.challenge_name.as_deref() == Some(CUSTOM_CHALLENGE))));
                prop_assert!(session.last().and_then(Option::as_ref).is_some_and(|r| r.challenge_result));
            }
            if decision == Decision::Challenge {
                prop_assert!(session.len() < max_rounds as usize);
            }
        }
    }
}
