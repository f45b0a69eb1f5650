//! Answering challenges: codes, magic links and the results a confirmed link hands back.
//! A challenge answers only for its purpose (a contact proof signs nobody in), and a magic
//! link an app bound to itself (PKCE) only through its result and verifier.
//!
//! An answer is counted before it is judged (decision 3, amended by 69): the conditional
//! write that counts it runs in the same round trip as the rate limits and the lock check,
//! only a counted answer is compared (in constant time, here), and what follows is one
//! atomic change: for a right answer the challenge verified, the user (created if new),
//! the session and the failure count's reset, with their events; for a wrong one the
//! identifier's failure count and its events. So a sign-in by code costs three round
//! trips, and a challenge is never verified without its session.

use zeroize::Zeroizing;

use super::sign_in::{closed_error, locked_until};
use super::{AuthKit, Caller, SignedIn};
use crate::challenge::{Challenge, ChallengeId, ChallengeKind, ChallengePurpose, ChallengeState};
use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::event::{Event, EventKind, Outcome};
use crate::identifier::Identifier;
use crate::rate_limit::Action;
use crate::secret::{OpaqueSecret, OtpCode, SecretHash};
use crate::store::{Applied, AttemptOutcome, Change, CounterValue, StoreError, Write};
use crate::tenant::Tenant;
use crate::user::User;

/// A challenge whose answer proved right.
#[derive(Debug, Clone)]
pub struct VerifiedChallenge {
    pub challenge: Challenge,
}

/// What a magic link's result must belong to when the account is known from elsewhere
/// (Cognito's session names the user and the challenge it created). On its own a result
/// names its challenge and signs in that challenge's identifier (the HTTP API); a session
/// that already has a user must not accept a result sent to someone else.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedResult<'a> {
    /// The challenge this sign-in started.
    pub challenge_id: &'a str,
    /// The account's contacts: the result's challenge must have been sent to one of them.
    pub identifiers: &'a [Identifier],
}

/// A magic link confirmed from its page: where to send the browser, carrying the one-time
/// result the app exchanges for tokens.
#[derive(Debug, Clone)]
pub struct ConfirmedLink {
    pub redirect_to: Zeroizing<String>,
}

/// What an answer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// Whatever the challenge's kind takes: a code, or a magic link's token.
    Any,
    /// Only a magic link's token (the link page must not verify codes).
    LinkToken,
}

/// A right answer, counted and judged, whose verification is not written yet.
struct RightAnswer {
    challenge: Challenge,
    /// The identifier's failures as admission read them: reset when there are any.
    failures: Option<CounterValue>,
    failure_key: String,
    /// The user the identifier names, when the caller asked.
    user: Option<User>,
}

/// How a sign-in's change ended when it did not open the session.
enum NotOpened {
    /// The challenge changed first (answered in parallel, expired).
    ChallengeChanged,
    Failed(AuthError),
}

impl From<AuthError> for NotOpened {
    fn from(error: AuthError) -> NotOpened {
        NotOpened::Failed(error)
    }
}

/// How many times a write that lost a race (a user created, a failure counted in between)
/// is tried again with what the store holds now.
const RACE_RETRIES: usize = 3;

impl AuthKit {
    /// Checks an answer (a code, or a magic-link token) and marks the challenge verified,
    /// without opening a session: for Cognito, which issues its own tokens.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn verify_answer(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        answer: &str,
    ) -> Result<VerifiedChallenge, AuthError> {
        let challenge = self
            .verify_for(
                caller,
                challenge_id,
                answer,
                &ChallengePurpose::SignIn,
                EventKind::ChallengeVerified,
            )
            .await?;
        Ok(VerifiedChallenge { challenge })
    }

    /// Checks an answer to a challenge started for `purpose` and marks it verified, with
    /// the failures' reset and a `kind` event, in one change; nothing else is created. A
    /// challenge started for anything else is not found, and its attempts are not touched.
    pub(super) async fn verify_for(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        answer: &str,
        purpose: &ChallengePurpose,
        kind: EventKind,
    ) -> Result<Challenge, AuthError> {
        let right = self
            .judge(caller, challenge_id, answer, Expected::Any, purpose, false)
            .await?;
        let (writes, event) = self.verification(caller, &right, None, kind);
        self.commit_verification(caller, &right, writes, event)
            .await?;
        Ok(Challenge {
            state: ChallengeState::Verified,
            ..right.challenge
        })
    }

    /// Checks an answer and signs the user in: the challenge verified, the user created on
    /// a first sign-in, the session opened, and their events, in one atomic change.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn sign_in_with_answer(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        answer: &str,
    ) -> Result<SignedIn, AuthError> {
        let right = self
            .judge(
                caller,
                challenge_id,
                answer,
                Expected::Any,
                &ChallengePurpose::SignIn,
                true,
            )
            .await?;
        let (writes, event) = self.verification(caller, &right, None, EventKind::ChallengeVerified);
        match self
            .open_user_session(caller, &right.challenge, right.user.clone(), writes, event)
            .await
        {
            Ok(signed_in) => Ok(signed_in),
            Err(NotOpened::ChallengeChanged) => {
                Err(self.closed(caller.tenant, &right.challenge.id).await)
            }
            Err(NotOpened::Failed(error)) => Err(error),
        }
    }

    /// The POST from a magic link's confirmation page. The page is opened from an email,
    /// so there is no API key: the tenant comes from the link itself.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.id))]
    pub async fn confirm_magic_link(
        &self,
        tenant: &Tenant,
        ip: Option<&str>,
        challenge_id: &str,
        token: &str,
    ) -> Result<ConfirmedLink, AuthError> {
        let caller = Caller { tenant, ip };
        let right = self
            .judge(
                caller,
                challenge_id,
                token,
                Expected::LinkToken,
                &ChallengePurpose::SignIn,
                false,
            )
            .await?;
        let id = right.challenge.id.clone();
        let result = OpaqueSecret::generate(self.random.as_ref());
        let exchange_hash = self.keys.current().pepper.hash(
            &Challenge::exchange_context(&id),
            result.expose().as_bytes(),
        );
        let (writes, event) = self.verification(
            caller,
            &right,
            Some(exchange_hash),
            EventKind::MagicLinkConfirmed,
        );
        self.commit_verification(caller, &right, writes, event)
            .await?;

        let result = Zeroizing::new(format!("{id}.{}", result.expose()));
        Ok(ConfirmedLink {
            redirect_to: super::magic_link::redirect_with_result(&right.challenge, &result)?,
        })
    }

    /// Exchanges a confirmed magic link's one-time result (`<challenge id>.<secret>`) for
    /// the verified challenge, without opening a session (Cognito). Works once. With
    /// `expected`, a result of any other challenge, or for an identifier outside
    /// `expected.identifiers`, is refused before anything is consumed. A bound link needs
    /// its PKCE verifier, and an unbound one takes none.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn exchange_result(
        &self,
        caller: Caller<'_>,
        result: &str,
        expected: Option<ExpectedResult<'_>>,
        code_verifier: Option<&str>,
    ) -> Result<VerifiedChallenge, AuthError> {
        let challenge = self
            .exchangeable(caller, result, expected, code_verifier)
            .await?;
        let consumed = self.challenge_event(caller, &challenge, EventKind::ChallengeConsumed);
        let change = Change {
            writes: vec![consume(&challenge, self.now())],
            events: vec![consumed],
        };
        match self.apply(change).await? {
            Applied::Done => Ok(VerifiedChallenge {
                challenge: Challenge {
                    state: ChallengeState::Consumed,
                    ..challenge
                },
            }),
            Applied::Refused(_) => Err(AuthError::InvalidSignInResult),
        }
    }

    /// Exchanges a confirmed magic link's one-time result for a session: the challenge
    /// consumed, the user created on a first sign-in, the session opened, and their events,
    /// in one atomic change. Works once; a bound link needs its PKCE verifier.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn sign_in_with_result(
        &self,
        caller: Caller<'_>,
        result: &str,
        code_verifier: Option<&str>,
    ) -> Result<SignedIn, AuthError> {
        let challenge = self
            .exchangeable(caller, result, None, code_verifier)
            .await?;
        let user = self
            .stores
            .users
            .find(&caller.tenant.id, &challenge.identifier)
            .await?;
        let consumed = self.challenge_event(caller, &challenge, EventKind::ChallengeConsumed);
        let writes = vec![consume(&challenge, self.now())];
        match self
            .open_user_session(caller, &challenge, user, writes, consumed)
            .await
        {
            Ok(signed_in) => Ok(signed_in),
            Err(NotOpened::ChallengeChanged) => Err(AuthError::InvalidSignInResult),
            Err(NotOpened::Failed(error)) => Err(error),
        }
    }

    /// The verified magic-link challenge a result names, if the result is its own, belongs
    /// to `expected` (when given) and comes with the verifier its link was bound to.
    async fn exchangeable(
        &self,
        caller: Caller<'_>,
        result: &str,
        expected: Option<ExpectedResult<'_>>,
        code_verifier: Option<&str>,
    ) -> Result<Challenge, AuthError> {
        let (id, secret) = result
            .split_once('.')
            .ok_or(AuthError::InvalidSignInResult)?;
        let id = ChallengeId::parse(id).map_err(|_| AuthError::InvalidSignInResult)?;
        let secret = OpaqueSecret::parse(secret).map_err(|_| AuthError::InvalidSignInResult)?;
        if expected.is_some_and(|expected| expected.challenge_id != id.as_str()) {
            return Err(AuthError::InvalidSignInResult);
        }
        let challenge = self
            .stores
            .challenges
            .get(&caller.tenant.id, &id)
            .await?
            .ok_or(AuthError::InvalidSignInResult)?;
        if expected.is_some_and(|expected| !expected.identifiers.contains(&challenge.identifier)) {
            return Err(AuthError::InvalidSignInResult);
        }
        let presented = self.keys.current().pepper.hash(
            &Challenge::exchange_context(&id),
            secret.expose().as_bytes(),
        );
        let matches = challenge
            .exchange_hash
            .is_some_and(|stored| stored.matches(&presented));
        let bound_here = super::magic_link::verifier_answers(&challenge, code_verifier);
        if !matches || !bound_here || !challenge.accepts_consumption(self.now()) {
            return Err(AuthError::InvalidSignInResult);
        }
        Ok(challenge)
    }

    /// Loads the challenge, then counts the answer in the round trip that asks the rate
    /// limits and the lock (and, when `with_user`, reads the user), then judges it in
    /// constant time. A wrong answer is recorded here and returned as the error; a right
    /// one is returned to be committed with the caller's writes. A challenge started for
    /// another purpose is not found, and a bound link's token is refused before anything
    /// is counted.
    async fn judge(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        answer: &str,
        expected: Expected,
        purpose: &ChallengePurpose,
        with_user: bool,
    ) -> Result<RightAnswer, AuthError> {
        let tenant = caller.tenant;
        let challenge = self.load_challenge(&tenant.id, challenge_id).await?;
        if &challenge.purpose != purpose {
            return Err(AuthError::ChallengeNotFound);
        }
        if expected == Expected::Any && challenge.code_challenge.is_some() {
            // The link's token would sign in without the verifier the app bound it to.
            return Err(AuthError::SignInBound);
        }
        let answer = parse_answer(&challenge, answer, expected)?;
        let now = self.now();
        let counting = async {
            futures::join!(
                self.stores
                    .challenges
                    .record_attempt(&tenant.id, &challenge.id, now),
                async {
                    match with_user {
                        true => self
                            .stores
                            .users
                            .find(&tenant.id, &challenge.identifier)
                            .await
                            .map(Some),
                        false => Ok(None),
                    }
                },
            )
        };
        let admitted = self
            .admit(Action::Verify, caller, &challenge.identifier, counting)
            .await?;
        let (attempt, user) = admitted.alongside;
        let counted = match attempt {
            Ok(AttemptOutcome::Counted(counted)) => counted,
            not_judged => {
                self.release_failure(&admitted.failure_key).await;
                return Err(match not_judged? {
                    AttemptOutcome::Refused(current) => closed_error(&current, now),
                    _ => AuthError::ChallengeNotFound,
                });
            }
        };
        let user = user?.flatten();
        let presented = self
            .keys
            .current()
            .pepper
            .hash(&Challenge::secret_context(&counted.id), answer.as_bytes());
        if counted.secret_hash.matches(&presented) {
            return Ok(RightAnswer {
                challenge: counted,
                failures: admitted.failures,
                failure_key: admitted.failure_key,
                user,
            });
        }
        Err(self
            .record_wrong_answer(caller, &counted, admitted.failures)
            .await)
    }

    /// Records a wrong answer (its failure was counted before it was judged). Returns what
    /// the caller is told.
    async fn record_wrong_answer(
        &self,
        caller: Caller<'_>,
        counted: &Challenge,
        failures: Option<CounterValue>,
    ) -> AuthError {
        let remaining = counted.remaining_attempts();
        let (kind, outcome, refused) = if remaining == 0 {
            (
                EventKind::ChallengeExhausted,
                "exhausted",
                AuthError::ChallengeExhausted,
            )
        } else {
            (
                EventKind::AnswerWrong,
                "wrong_code",
                AuthError::WrongAnswer {
                    remaining_attempts: remaining,
                },
            )
        };
        tracing::info!(outcome, remaining, "wrong answer");
        let mut wrong = self.challenge_event(caller, counted, kind);
        wrong.outcome = Outcome::Failure;
        wrong.detail = Some(outcome.to_owned());
        let locked = self.challenge_event(caller, counted, EventKind::IdentifierLocked);
        match self.record_failure(caller, wrong, locked, failures).await {
            Ok(()) => refused,
            Err(error) => error,
        }
    }

    /// Records a failure counted before its answer was judged: `wrong`, and `locked` (with
    /// how long) when this failure reached the tenant's cap or renewed its lock.
    pub(super) async fn record_failure(
        &self,
        caller: Caller<'_>,
        wrong: Event,
        mut locked: Event,
        failures: Option<CounterValue>,
    ) -> Result<(), AuthError> {
        let mut events = vec![wrong];
        if let Some(unlock_at) = failures.and_then(|f| locked_until(caller.tenant, f)) {
            locked.outcome = Outcome::Refused;
            locked.detail = Some(format!("for={}s", self.now().secs_until(unlock_at)));
            events.push(locked);
        }
        let change = Change {
            writes: Vec::new(),
            events,
        };
        match self.apply(change).await? {
            Applied::Done => Ok(()),
            Applied::Refused(_) => {
                Err(StoreError::Corrupt("events alone were refused".into()).into())
            }
        }
    }

    /// The writes and event that record a right answer: the challenge verified (keeping a
    /// link's exchange hash) and, when there were any, the identifier's failures forgotten.
    fn verification(
        &self,
        caller: Caller<'_>,
        right: &RightAnswer,
        exchange_hash: Option<SecretHash>,
        kind: EventKind,
    ) -> (Vec<Write>, Event) {
        tracing::info!(outcome = "verified", "challenge verified");
        let mut writes = vec![Write::VerifyChallenge {
            tenant: caller.tenant.id.clone(),
            id: right.challenge.id.clone(),
            exchange_hash,
            now: self.now(),
        }];
        if right.failures.is_some() {
            writes.push(Write::ResetCounter {
                key: right.failure_key.clone(),
            });
        }
        (writes, self.challenge_event(caller, &right.challenge, kind))
    }

    /// Writes a verification on its own (no session).
    async fn commit_verification(
        &self,
        caller: Caller<'_>,
        right: &RightAnswer,
        writes: Vec<Write>,
        event: Event,
    ) -> Result<(), AuthError> {
        let change = Change {
            writes,
            events: vec![event],
        };
        match self.apply(change).await? {
            Applied::Done => Ok(()),
            Applied::Refused(_) => Err(self.closed(caller.tenant, &right.challenge.id).await),
        }
    }

    /// Opens the session a challenge proved, in one change with `writes` (the first of
    /// which moves the challenge on) and `event`: the user created when `user` is None (a
    /// first sign-in), or checked to be still the one the identifier names. When another
    /// request created the user first, reads it and tries again.
    async fn open_user_session(
        &self,
        caller: Caller<'_>,
        challenge: &Challenge,
        mut user: Option<User>,
        writes: Vec<Write>,
        event: Event,
    ) -> Result<SignedIn, NotOpened> {
        let tenant = caller.tenant;
        let amr = super::sessions::methods(challenge.kind, challenge.channel);
        for _ in 0..RACE_RETRIES {
            let mut change = Change {
                writes: writes.clone(),
                events: vec![event.clone()],
            };
            let user_index = change.writes.len();
            let chosen = self.user_signing_in(caller, challenge, user.as_ref(), self.now())?;
            change.writes.push(chosen.write);
            change.events.extend(chosen.events);
            let (signing_in, is_new_user) = (chosen.user, chosen.is_new);
            let mut session = self.new_session(caller, &signing_in.id, None, amr.clone());
            // The challenge that proved it: a verified challenge's session can be found.
            session.opened.challenge_id = Some(challenge.id.clone());
            change
                .writes
                .push(Write::InsertSession(session.family.clone()));
            change.events.push(session.opened.clone());
            match self.apply(change).await? {
                Applied::Done => {
                    return Ok(SignedIn {
                        tokens: self.tokens_for(tenant, &session.family, session.refresh),
                        user_id: signing_in.id,
                        is_new_user,
                    })
                }
                Applied::Refused(failed) if failed.contains(&0) => {
                    return Err(NotOpened::ChallengeChanged)
                }
                Applied::Refused(failed) if failed.contains(&user_index) => {
                    user = self
                        .stores
                        .users
                        .find(&tenant.id, &challenge.identifier)
                        .await
                        .map_err(AuthError::from)?;
                }
                Applied::Refused(_) => {
                    return Err(NotOpened::Failed(
                        StoreError::Corrupt("a new session's id is taken".into()).into(),
                    ))
                }
            }
        }
        Err(NotOpened::Failed(
            StoreError::Throttled("the user kept changing under a sign-in".into()).into(),
        ))
    }

    /// Why a challenge that a write expected to move on did not: read it again.
    async fn closed(&self, tenant: &Tenant, id: &ChallengeId) -> AuthError {
        match self.stores.challenges.get(&tenant.id, id).await {
            Ok(Some(current)) => closed_error(&current, self.now()),
            Ok(None) => AuthError::ChallengeNotFound,
            Err(error) => error.into(),
        }
    }
}

/// `Verified → Consumed` for a magic link's exchanged result.
fn consume(challenge: &Challenge, now: Timestamp) -> Write {
    Write::ConsumeChallenge {
        tenant: challenge.tenant.clone(),
        id: challenge.id.clone(),
        now,
    }
}

fn parse_answer(
    challenge: &Challenge,
    raw: &str,
    expected: Expected,
) -> Result<Zeroizing<String>, AuthError> {
    match (challenge.kind, expected) {
        (ChallengeKind::Code { length }, Expected::Any) => OtpCode::parse(raw, length)
            .map(|code| Zeroizing::new(code.expose().to_owned()))
            .map_err(|_| AuthError::MalformedAnswer),
        (ChallengeKind::MagicLink, _) => OpaqueSecret::parse(raw)
            .map(|token| Zeroizing::new(token.expose().to_owned()))
            .map_err(|_| AuthError::MalformedAnswer),
        (ChallengeKind::Code { .. }, Expected::LinkToken) => Err(AuthError::MalformedAnswer),
    }
}
