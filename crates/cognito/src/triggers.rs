//! The three CUSTOM_AUTH triggers and PreSignUp.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use authkit_domain::identifier::{Channel, Identifier};
use authkit_domain::service::{
    Caller, DecoyChallenge, ExpectedResult, RequestedKind, StartRequest, StartedChallenge,
};
use authkit_domain::tenant::Tenant;
use authkit_domain::{AuthError, AuthKit};
use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsChallengeResult, CognitoEventUserPoolsCreateAuthChallenge,
    CognitoEventUserPoolsCreateAuthChallengeRequest as CreateRequest,
    CognitoEventUserPoolsDefineAuthChallenge, CognitoEventUserPoolsPreSignup,
    CognitoEventUserPoolsPreSignupTriggerSource, CognitoEventUserPoolsVerifyAuthChallenge,
};

use crate::contacts;
use crate::directory::UserDirectory;
use crate::{CHALLENGE_METADATA_PREFIX, CUSTOM_CHALLENGE, DECOY_METADATA_PREFIX};

/// Cognito waits 5 seconds for a trigger; answering in 4 leaves room for the runtime, so a
/// slow provider ends the round with an error instead of a timeout.
const DEADLINE: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("the user has no proven email or phone number for this sign-in")]
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
    #[error("users are created through the app's sign-up, not the public SignUp API")]
    PublicSignUp,
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
            TriggerError::PublicSignUp => "SignInRefused",
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
/// (SRP or password steps, unknown names) fails the sign-in. A user that does not exist
/// gets the same rounds as one that does, and never tokens.
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
        // Verify never accepts an unknown user's answer; should Cognito say otherwise,
        // fail rather than issue tokens.
        Some(Some(last)) if last.challenge_result && user_not_found => Decision::Fail,
        Some(Some(last)) if last.challenge_result => Decision::IssueTokens,
        Some(_) if session.len() >= max_rounds as usize => Decision::Fail,
        Some(_) => Decision::Challenge,
    }
}

/// Sends a code or a magic link on the first round; on later rounds reuses the live
/// challenge (no second message) unless `clientMetadata.resend` is `"true"`. A user that
/// does not exist gets a decoy shown exactly like a real challenge, and nothing is sent.
pub async fn create_auth_challenge(
    triggers: &Triggers,
    mut event: CognitoEventUserPoolsCreateAuthChallenge,
) -> Result<CognitoEventUserPoolsCreateAuthChallenge, TriggerError> {
    let request = &event.request;
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
    let (started, metadata) = if request.user_not_found {
        let username = event
            .cognito_event_user_pools_header
            .user_name
            .as_deref()
            .unwrap_or_default();
        let decoy = decoy_round(triggers, username, &event.request).await?;
        let metadata = serde_json::to_string(&decoy)
            .map(|state| format!("{DECOY_METADATA_PREFIX}{state}"))
            .map_err(|_| TriggerError::UnexpectedSession("unencodable decoy".into()))?;
        (decoy.shown, metadata)
    } else {
        let started = real_round(triggers, &event.request).await?;
        let metadata = format!("{CHALLENGE_METADATA_PREFIX}{}", started.id);
        (started, metadata)
    };
    event.response.public_challenge_parameters = public_parameters(&started);
    event.response.private_challenge_parameters =
        HashMap::from([("challenge_id".to_owned(), started.id.to_string())]);
    event.response.challenge_metadata = Some(metadata);
    Ok(event)
}

/// The newest `challengeMetadata` in the session with `prefix`, without it.
fn previous_round<'a>(request: &'a CreateRequest, prefix: &str) -> Option<&'a str> {
    request
        .session
        .iter()
        .rev()
        .flatten()
        .find_map(|round| round.challenge_metadata.as_deref()?.strip_prefix(prefix))
}

fn resend_requested(request: &CreateRequest) -> bool {
    matches!(
        request.client_metadata.get("resend").map(String::as_str),
        Some("true")
    )
}

async fn real_round(
    triggers: &Triggers,
    request: &CreateRequest,
) -> Result<StartedChallenge, TriggerError> {
    let metadata = &request.client_metadata;
    match previous_round(request, CHALLENGE_METADATA_PREFIX) {
        Some(id) if resend_requested(request) => {
            within_deadline(triggers.authkit.resend(triggers.caller(), id)).await
        }
        Some(id) => {
            match within_deadline(triggers.authkit.live_challenge(triggers.caller(), id)).await {
                Ok(live) => Ok(live),
                // Expired or used up: a fresh challenge (rate limits still apply).
                Err(TriggerError::Domain(
                    AuthError::ChallengeExpired
                    | AuthError::ChallengeExhausted
                    | AuthError::ChallengeUsed,
                )) => start(triggers, &request.user_attributes, metadata).await,
                Err(other) => Err(other),
            }
        }
        None => start(triggers, &request.user_attributes, metadata).await,
    }
}

/// The decoy for a user that does not exist: the typed username stands in for the contact
/// (with username attributes it is the email or phone number a real user would be reached
/// at), and its state rides in the session's challenge metadata, which the client never
/// sees.
async fn decoy_round(
    triggers: &Triggers,
    username: &str,
    request: &CreateRequest,
) -> Result<DecoyChallenge, TriggerError> {
    let options = SignInOptions::from_metadata(&request.client_metadata)?;
    let typed = Identifier::parse(username, triggers.tenant.policy.default_region)
        .ok()
        .filter(|typed| typed.channel(options.channel).is_ok())
        // What a real user without a contact for this channel gets.
        .ok_or(TriggerError::NoContact)?;
    let start = options.request(typed.as_str());
    let previous = previous_round(request, DECOY_METADATA_PREFIX)
        .and_then(|state| serde_json::from_str::<DecoyChallenge>(state).ok());
    let caller = triggers.caller();
    match previous {
        Some(previous) => {
            within_deadline(triggers.authkit.continue_decoy(
                caller,
                start,
                &previous,
                resend_requested(request),
            ))
            .await
        }
        None => within_deadline(triggers.authkit.start_decoy(caller, start)).await,
    }
}

/// What clientMetadata asks of a sign-in: `channel`, `kind`, `redirectUri`.
struct SignInOptions<'a> {
    channel: Option<Channel>,
    kind: RequestedKind,
    redirect_uri: Option<&'a str>,
}

impl<'a> SignInOptions<'a> {
    fn from_metadata(metadata: &'a HashMap<String, String>) -> Result<Self, TriggerError> {
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
        Ok(SignInOptions {
            channel,
            kind,
            redirect_uri: metadata.get("redirectUri").map(String::as_str),
        })
    }

    fn request(&self, identifier: &'a str) -> StartRequest<'a> {
        StartRequest {
            identifier,
            channel: self.channel,
            kind: self.kind,
            redirect_uri: self.redirect_uri,
            code_challenge: None,
            response_mode: Default::default(),
        }
    }
}

/// Starts a sign-in to one of the user's proven contacts (see [`contacts::proven`]):
/// `clientMetadata.channel` chooses among them, never beyond them.
async fn start(
    triggers: &Triggers,
    attributes: &HashMap<String, String>,
    metadata: &HashMap<String, String>,
) -> Result<StartedChallenge, TriggerError> {
    let options = SignInOptions::from_metadata(metadata)?;
    let proven = contacts::proven(attributes, triggers.tenant.policy.default_region);
    let identifier = contacts::choose(&proven, options.channel).ok_or(TriggerError::NoContact)?;
    within_deadline(
        triggers
            .authkit
            .start_sign_in(triggers.caller(), options.request(identifier.as_str())),
    )
    .await
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
        // Counted like a wrong answer to a real challenge, so limits and lockouts fall
        // alike; never right.
        let username = event
            .cognito_event_user_pools_header
            .user_name
            .as_deref()
            .unwrap_or_default();
        within_deadline(
            triggers
                .authkit
                .reject_decoy_answer(triggers.caller(), username),
        )
        .await?;
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
        // A result answers only this session's challenge, sent to this user: otherwise
        // anyone who confirmed a link of their own could answer someone else's session.
        let identifiers = contacts::proven(
            &request.user_attributes,
            triggers.tenant.policy.default_region,
        );
        let expected = ExpectedResult {
            challenge_id: &challenge_id,
            identifiers: &identifiers,
        };
        within_deadline(triggers.authkit.exchange_result(
            triggers.caller(),
            &answer,
            Some(expected),
            None,
        ))
        .await
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
    // The domain logged the outcome (verified, wrong_code, …) already; once is what the
    // metric filters count.
    tracing::info!(answer_correct = correct, "verify auth challenge");
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

/// Lets only AuthKit's sign-up route create users. A public `SignUp` could set any
/// contact — the victim's email beside the attacker's phone — and wait for the victim
/// (account pre-hijacking), so it is refused even on a pool that leaves SignUp open.
/// `AdminCreateUser` (AuthKit's route, or the pool's operator) is confirmed without
/// verifying any contact: a contact becomes verified only when an AuthKit code proves it.
/// Federated users pass untouched: they are separate users named by their provider,
/// never signed in through CUSTOM_AUTH by an email or phone alias.
pub fn pre_sign_up(
    mut event: CognitoEventUserPoolsPreSignup,
) -> Result<CognitoEventUserPoolsPreSignup, TriggerError> {
    let source = event.cognito_event_user_pools_header.trigger_source.clone();
    match source {
        Some(CognitoEventUserPoolsPreSignupTriggerSource::AdminCreateUser) => {
            event.response.auto_confirm_user = true;
        }
        Some(CognitoEventUserPoolsPreSignupTriggerSource::ExternalProvider) => {}
        _ => {
            tracing::warn!(outcome = "refused", trigger_source = ?source, "public sign-up refused");
            return Err(TriggerError::PublicSignUp);
        }
    }
    event.response.auto_verify_email = false;
    event.response.auto_verify_phone = false;
    Ok(event)
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
        assert_eq!(decide(3, true, &[]), Decision::Challenge);
        assert_eq!(
            decide(3, true, &[round(CUSTOM_CHALLENGE, true)]),
            Decision::Fail
        );
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
            let any_right = session.iter().flatten().any(|r| r.challenge_result);
            if !any_right {
                prop_assert_eq!(decision, decide(max_rounds, !user_not_found, &session), "known and unknown users must go through the same rounds");
            }
        }
    }
}
