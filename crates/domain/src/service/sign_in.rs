//! Starting, resending and answering challenges.

use zeroize::Zeroizing;

use super::{AuthKit, Caller};
use crate::audit::{AuditKind, Outcome};
use crate::challenge::{
    Challenge, ChallengeId, ChallengeKind, ChallengePurpose, ChallengeState, ChallengeStatus,
    ResponseMode,
};
use crate::clock::Timestamp;
use crate::delivery::{MessageContent, OutgoingMessage};
use crate::error::AuthError;
use crate::identifier::{Channel, Identifier};
use crate::pkce::CodeChallenge;
use crate::rate_limit::{identifier_digest, Action, CountedLimit, RateLimitPolicy, Subject};
use crate::secret::{OpaqueSecret, OtpCode, Pepper};
use crate::store::{Admission, AttemptOutcome, CounterKey, CounterLimit, StoreError};
use crate::tenant::Tenant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedKind {
    Code,
    MagicLink,
}

#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    pub identifier: &'a str,
    pub channel: Option<Channel>,
    pub kind: RequestedKind,
    pub redirect_uri: Option<&'a str>,
    /// Magic links only: binds the sign-in to the app holding its verifier (PKCE, S256).
    pub code_challenge: Option<&'a str>,
    /// Magic links only: where the result goes in the redirect (query needs a challenge).
    pub response_mode: ResponseMode,
}

/// What the client learns about a started challenge. Identical whether or not the
/// identifier has signed in before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartedChallenge {
    pub id: ChallengeId,
    pub kind: ChallengeKind,
    pub channel: Channel,
    pub masked_destination: String,
    pub expires_at: Timestamp,
    pub resend_after: Timestamp,
}

impl StartedChallenge {
    fn of(challenge: &Challenge) -> StartedChallenge {
        StartedChallenge {
            id: challenge.id.clone(),
            kind: challenge.kind,
            channel: challenge.channel,
            masked_destination: challenge.identifier.masked(),
            expires_at: challenge.expires_at,
            resend_after: challenge.resend_after,
        }
    }
}

/// A start that passed every check: what its challenge will be.
pub(super) struct AdmittedStart {
    pub identifier: Identifier,
    pub channel: Channel,
    pub kind: ChallengeKind,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub response_mode: ResponseMode,
}

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

/// The secret behind a new challenge, in clear only until it is sent.
enum FreshSecret {
    Code(OtpCode),
    Token(OpaqueSecret),
}

impl FreshSecret {
    fn bytes(&self) -> &[u8] {
        match self {
            FreshSecret::Code(code) => code.expose().as_bytes(),
            FreshSecret::Token(token) => token.expose().as_bytes(),
        }
    }
}

/// How long an identifier stays locked after reaching its failure cap: 15 minutes,
/// doubling with each further failure, at most a day.
fn lockout_secs(failures_over_cap: u64) -> u64 {
    const BASE: u64 = 15 * 60;
    const CEILING: u64 = 24 * 3600;
    BASE.saturating_mul(1 << failures_over_cap.min(10))
        .min(CEILING)
}

/// Consecutive failures are remembered this long after the last one.
const FAILURE_MEMORY_SECS: i64 = 7 * 24 * 3600;

impl AuthKit {
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id, kind = ?request.kind))]
    pub async fn start_sign_in(
        &self,
        caller: Caller<'_>,
        request: StartRequest<'_>,
    ) -> Result<StartedChallenge, AuthError> {
        let admitted = self.admit_start(caller, &request).await?;
        self.issue(caller, admitted, ChallengePurpose::SignIn).await
    }

    /// Stores and sends the challenge of an admitted start.
    pub(super) async fn issue(
        &self,
        caller: Caller<'_>,
        admitted: AdmittedStart,
        purpose: ChallengePurpose,
    ) -> Result<StartedChallenge, AuthError> {
        let (challenge, secret) = self.new_challenge(
            caller.tenant,
            admitted.identifier,
            admitted.channel,
            admitted.kind,
            admitted.redirect_uri,
            0,
            purpose,
            self.now(),
        );
        let challenge = Challenge {
            code_challenge: admitted.code_challenge,
            response_mode: admitted.response_mode,
            ..challenge
        };
        self.stores.challenges.insert(&challenge).await?;
        self.deliver(caller, &challenge, secret, AuditKind::ChallengeStarted)
            .await?;
        Ok(StartedChallenge::of(&challenge))
    }

    /// Every check a start makes before anything is stored or sent: the identifier, the
    /// channel, the redirect, rate limits and lockout. Decoys go through it too, so a
    /// sign-in for an account that does not exist is refused exactly when a real one
    /// would be.
    pub(super) async fn admit_start(
        &self,
        caller: Caller<'_>,
        request: &StartRequest<'_>,
    ) -> Result<AdmittedStart, AuthError> {
        let tenant = caller.tenant;
        let identifier = Identifier::parse(request.identifier, tenant.policy.default_region)?;
        let channel = identifier.channel(request.channel)?;
        if !tenant.enables(channel) {
            return Err(AuthError::ChannelDisabled(channel));
        }
        if !self.sender.reaches(channel) {
            return Err(AuthError::ChannelUnavailable(channel));
        }
        let redirect_uri = match request.kind {
            RequestedKind::Code => None,
            RequestedKind::MagicLink => Some(allowed_redirect(tenant, request.redirect_uri)?),
        };
        let code_challenge = super::magic_link::binding(request)?;
        self.admit(Action::Start, caller, &identifier).await?;
        let kind = match request.kind {
            RequestedKind::Code => ChallengeKind::Code {
                length: tenant.policy.code_length,
            },
            RequestedKind::MagicLink => ChallengeKind::MagicLink,
        };
        Ok(AdmittedStart {
            identifier,
            channel,
            kind,
            redirect_uri,
            code_challenge,
            response_mode: request.response_mode,
        })
    }

    /// Replaces a pending challenge with a new one carrying a new secret: the old secret
    /// stops working at once. Cooldown and the resend cap carry over from the old one.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn resend(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
    ) -> Result<StartedChallenge, AuthError> {
        let tenant = caller.tenant;
        let old = self.load_challenge(&tenant.id, challenge_id).await?;
        let id = old.id.clone();
        let now = self.now();
        check_resend(&old, now)?;
        self.admit(Action::Start, caller, &old.identifier).await?;

        let (new, secret) = self.new_challenge(
            tenant,
            old.identifier.clone(),
            old.channel,
            old.kind,
            old.redirect_uri.clone(),
            old.resends + 1,
            old.purpose.clone(),
            now,
        );
        let new = Challenge {
            code_challenge: old.code_challenge,
            response_mode: old.response_mode,
            ..new
        };
        if !self.stores.challenges.supersede(&old, &new, now).await? {
            // Another request changed the old challenge first; report its state now.
            let current = self
                .stores
                .challenges
                .get(&tenant.id, &id)
                .await?
                .ok_or(AuthError::ChallengeNotFound)?;
            check_resend(&current, now)?;
            return Err(AuthError::ChallengeUsed);
        }
        self.deliver(caller, &new, secret, AuditKind::ChallengeResent)
            .await?;
        Ok(StartedChallenge::of(&new))
    }

    /// A challenge that still takes answers, as the client sees it; the reason otherwise.
    /// Cognito's CreateAuthChallenge uses it to reuse a live challenge across rounds.
    pub async fn live_challenge(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
    ) -> Result<StartedChallenge, AuthError> {
        let challenge = self.load_challenge(&caller.tenant.id, challenge_id).await?;
        let now = self.now();
        if challenge.accepts_attempt(now) {
            Ok(StartedChallenge::of(&challenge))
        } else {
            Err(closed_error(&challenge, now))
        }
    }

    /// Checks an answer (a code, or a magic-link token) against a challenge. Each answer is
    /// counted atomically before it is judged, so parallel guesses cannot exceed the limit.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn verify_answer(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        answer: &str,
    ) -> Result<VerifiedChallenge, AuthError> {
        let challenge = self
            .answer_for(caller, challenge_id, answer, &ChallengePurpose::SignIn)
            .await?;
        Ok(VerifiedChallenge { challenge })
    }

    /// Checks an answer against a challenge started for `purpose`; a challenge started for
    /// anything else is not found, and its attempts are not touched.
    pub(super) async fn answer_for(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        answer: &str,
        purpose: &ChallengePurpose,
    ) -> Result<Challenge, AuthError> {
        let tenant = caller.tenant;
        let challenge = self.load_challenge(&tenant.id, challenge_id).await?;
        if &challenge.purpose != purpose {
            return Err(AuthError::ChallengeNotFound);
        }
        if challenge.code_challenge.is_some() {
            // The link's token would sign in without the verifier the app bound it to.
            return Err(AuthError::SignInBound);
        }
        let answer = parse_answer(&challenge, answer)?;
        self.admit(Action::Verify, caller, &challenge.identifier)
            .await?;
        self.judge_answer(caller, &challenge, answer.as_bytes(), None)
            .await?;
        Ok(Challenge {
            state: ChallengeState::Verified,
            ..challenge
        })
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
        let challenge = self.load_challenge(&tenant.id, challenge_id).await?;
        let id = challenge.id.clone();
        if challenge.kind != ChallengeKind::MagicLink {
            return Err(AuthError::MalformedAnswer);
        }
        let token = OpaqueSecret::parse(token).map_err(|_| AuthError::MalformedAnswer)?;
        self.admit(Action::Verify, caller, &challenge.identifier)
            .await?;

        let result = OpaqueSecret::generate(self.random.as_ref());
        let pepper = self.keys.current().pepper.clone();
        let exchange_hash = pepper.hash(
            &Challenge::exchange_context(&id),
            result.expose().as_bytes(),
        );
        self.judge_answer(
            caller,
            &challenge,
            token.expose().as_bytes(),
            Some(exchange_hash),
        )
        .await?;

        let result = Zeroizing::new(format!("{id}.{}", result.expose()));
        Ok(ConfirmedLink {
            redirect_to: super::magic_link::redirect_with_result(&challenge, &result)?,
        })
    }

    /// Exchanges a confirmed magic link's one-time result (`<challenge id>.<secret>`) for
    /// the verified challenge. Works once. With `expected`, a result of any other challenge,
    /// or for an identifier outside `expected.identifiers`, is refused before anything is
    /// consumed. A bound link needs its PKCE verifier, and an unbound one takes none.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn exchange_result(
        &self,
        caller: Caller<'_>,
        result: &str,
        expected: Option<ExpectedResult<'_>>,
        code_verifier: Option<&str>,
    ) -> Result<VerifiedChallenge, AuthError> {
        let tenant = caller.tenant;
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
            .get(&tenant.id, &id)
            .await?
            .ok_or(AuthError::InvalidSignInResult)?;
        if expected.is_some_and(|expected| !expected.identifiers.contains(&challenge.identifier)) {
            return Err(AuthError::InvalidSignInResult);
        }
        let now = self.now();
        let presented = self.keys.current().pepper.hash(
            &Challenge::exchange_context(&id),
            secret.expose().as_bytes(),
        );
        let matches = challenge
            .exchange_hash
            .is_some_and(|stored| stored.matches(&presented));
        let bound_here = super::magic_link::verifier_answers(&challenge, code_verifier);
        if !matches || !bound_here || !challenge.accepts_consumption(now) {
            return Err(AuthError::InvalidSignInResult);
        }
        if !self
            .stores
            .challenges
            .mark_consumed(&tenant.id, &id, now)
            .await?
        {
            return Err(AuthError::InvalidSignInResult);
        }
        Ok(VerifiedChallenge {
            challenge: Challenge {
                state: ChallengeState::Consumed,
                ..challenge
            },
        })
    }

    /// The challenge a client names, in this tenant.
    pub(super) async fn load_challenge(
        &self,
        tenant: &crate::tenant::TenantId,
        challenge_id: &str,
    ) -> Result<Challenge, AuthError> {
        let id = ChallengeId::parse(challenge_id).map_err(|_| AuthError::MalformedChallengeId)?;
        self.stores
            .challenges
            .get(tenant, &id)
            .await?
            .ok_or(AuthError::ChallengeNotFound)
    }

    /// Counts the answer, judges it in constant time, and moves the challenge to Verified
    /// when right. Keeps the identifier's consecutive-failure count.
    async fn judge_answer(
        &self,
        caller: Caller<'_>,
        challenge: &Challenge,
        answer: &[u8],
        exchange_hash: Option<crate::secret::SecretHash>,
    ) -> Result<(), AuthError> {
        let tenant = caller.tenant;
        let now = self.now();
        let counted = match self
            .stores
            .challenges
            .record_attempt(&tenant.id, &challenge.id, now)
            .await?
        {
            AttemptOutcome::Counted(counted) => counted,
            AttemptOutcome::Refused(current) => return Err(closed_error(&current, now)),
            AttemptOutcome::NotFound => return Err(AuthError::ChallengeNotFound),
        };
        let keys = self.keys.current();
        let presented = keys
            .pepper
            .hash(&Challenge::secret_context(&counted.id), answer);
        let mut event = self.event(tenant, AuditKind::ChallengeVerified, Outcome::Success);
        event.challenge_id = Some(counted.id.clone());
        event.identifier = Some(counted.identifier.masked());
        event.channel = Some(counted.channel);
        event.ip = caller.ip.map(str::to_owned);

        if counted.secret_hash.matches(&presented) {
            if !self
                .stores
                .challenges
                .mark_verified(&tenant.id, &counted.id, exchange_hash, now)
                .await?
            {
                // A parallel right answer won, or the challenge expired in between.
                let current = self
                    .stores
                    .challenges
                    .get(&tenant.id, &counted.id)
                    .await?
                    .ok_or(AuthError::ChallengeNotFound)?;
                return Err(closed_error(&current, now));
            }
            self.stores
                .counters
                .reset(&failure_key(tenant, &counted.identifier, &keys.pepper))
                .await?;
            tracing::info!(outcome = "verified", "challenge verified");
            if exchange_hash.is_some() {
                event.kind = AuditKind::MagicLinkConfirmed;
            }
            self.audit(event).await;
            return Ok(());
        }

        self.count_failure(tenant, &counted.identifier).await?;
        let remaining = counted.remaining_attempts();
        let (kind, outcome) = if remaining == 0 {
            (AuditKind::ChallengeExhausted, "exhausted")
        } else {
            (AuditKind::VerificationFailed, "wrong_code")
        };
        tracing::info!(outcome, remaining, "wrong answer");
        event.kind = kind;
        event.outcome = Outcome::Failure;
        event.detail = Some(outcome.to_owned());
        self.audit(event).await;
        Err(if remaining == 0 {
            AuthError::ChallengeExhausted
        } else {
            AuthError::WrongAnswer {
                remaining_attempts: remaining,
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn new_challenge(
        &self,
        tenant: &Tenant,
        identifier: Identifier,
        channel: Channel,
        kind: ChallengeKind,
        redirect_uri: Option<String>,
        resends: u32,
        purpose: ChallengePurpose,
        now: Timestamp,
    ) -> (Challenge, FreshSecret) {
        let random = self.random.as_ref();
        let id = ChallengeId::generate(random);
        let secret = match kind {
            ChallengeKind::Code { length } => FreshSecret::Code(OtpCode::generate(random, length)),
            ChallengeKind::MagicLink => FreshSecret::Token(OpaqueSecret::generate(random)),
        };
        let policy = &tenant.policy;
        let challenge = Challenge {
            secret_hash: self
                .keys
                .current()
                .pepper
                .hash(&Challenge::secret_context(&id), secret.bytes()),
            id,
            tenant: tenant.id.clone(),
            identifier,
            channel,
            kind,
            state: ChallengeState::Pending,
            attempts: 0,
            max_attempts: policy.max_attempts,
            resends,
            max_resends: policy.max_resends,
            created_at: now,
            expires_at: now.plus_secs(i64::from(policy.challenge_ttl_secs)),
            resend_after: now.plus_secs(i64::from(policy.resend_cooldown_secs)),
            redirect_uri,
            exchange_hash: None,
            purpose,
            code_challenge: None,
            response_mode: ResponseMode::Fragment,
        };
        (challenge, secret)
    }

    /// Sends the secret. A failed send marks the challenge undelivered, so it can never be
    /// answered, and reports the failure: nothing is left half-done.
    async fn deliver(
        &self,
        caller: Caller<'_>,
        challenge: &Challenge,
        secret: FreshSecret,
        started: AuditKind,
    ) -> Result<(), AuthError> {
        let tenant = caller.tenant;
        let content = match secret {
            FreshSecret::Code(code) => MessageContent::Code(code),
            FreshSecret::Token(token) => {
                MessageContent::MagicLink(Zeroizing::new(self.magic_link(challenge, &token)))
            }
        };
        let message = OutgoingMessage {
            tenant: tenant.id.clone(),
            tenant_name: tenant.name.clone(),
            channel: challenge.channel,
            to: challenge.identifier.clone(),
            content,
            expires_in_secs: tenant.policy.challenge_ttl_secs,
        };
        let mut event = self.event(tenant, started, Outcome::Success);
        event.challenge_id = Some(challenge.id.clone());
        event.identifier = Some(challenge.identifier.masked());
        event.channel = Some(challenge.channel);
        event.ip = caller.ip.map(str::to_owned);
        self.audit(event.clone()).await;

        match self.sender.send(&message).await {
            Ok(receipt) => {
                tracing::info!(outcome = "delivered", channel = %challenge.channel, provider_message_id = %receipt.provider_message_id, "challenge delivered");
                event.kind = AuditKind::ChallengeDelivered;
                self.audit(event).await;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(outcome = "delivery_failed", channel = %challenge.channel, error = %error, "delivery failed");
                self.stores
                    .challenges
                    .mark_undelivered(&tenant.id, &challenge.id)
                    .await?;
                event.kind = AuditKind::DeliveryFailed;
                event.outcome = Outcome::Failure;
                self.audit(event).await;
                Err(AuthError::DeliveryFailed(error))
            }
        }
    }

    /// `{public base}/v1/auth/link?tenant=…&challenge_id=…&token=…`: opening it shows a
    /// confirmation page and consumes nothing, so mail scanners cannot burn it.
    fn magic_link(&self, challenge: &Challenge, token: &OpaqueSecret) -> String {
        let base = self.settings.public_base_url.trim_end_matches('/');
        format!(
            "{base}/v1/auth/link?tenant={}&challenge_id={}&token={}",
            challenge.tenant,
            challenge.id,
            token.expose()
        )
    }

    /// Lets a request through, or refuses it because the identifier is locked or a rate
    /// limit is reached. The client's own limits and the identifier's lock are read in one
    /// round trip; the shared limits are asked only when both let the request through, so
    /// a refused request never spends what the tenant or a country shares.
    pub(super) async fn admit(
        &self,
        action: Action,
        caller: Caller<'_>,
        identifier: &Identifier,
    ) -> Result<(), AuthError> {
        let tenant = caller.tenant;
        let now = self.now();
        let pepper = self.keys.current().pepper.clone();
        let subject = Subject {
            tenant: &tenant.id,
            ip: caller.ip,
            identifier: Some(identifier),
        };
        let [own, shared] = tenant
            .policy
            .rate_limits
            .tiers(action, subject, now, &pepper);
        let lock = async {
            if action.respects_lockout() {
                self.refuse_if_locked(tenant, identifier, &pepper).await
            } else {
                Ok(())
            }
        };
        let (own_admitted, unlocked) =
            futures::join!(self.admit_tier(caller, identifier, &own, now), lock);
        unlocked?;
        own_admitted?;
        self.admit_tier(caller, identifier, &shared, now).await
    }

    async fn admit_tier(
        &self,
        caller: Caller<'_>,
        identifier: &Identifier,
        tier: &[CountedLimit],
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if tier.is_empty() {
            return Ok(());
        }
        let limits: Vec<CounterLimit> = tier.iter().map(|c| c.counter.clone()).collect();
        let Admission::Refused(at_limit) = self.stores.counters.admit(&limits, now).await? else {
            return Ok(());
        };
        let tripped = RateLimitPolicy::refusal(tier, &at_limit, now)
            .ok_or_else(|| StoreError::Corrupt("a refusal named no counter".into()))?;
        let tenant = caller.tenant;
        tracing::info!(tenant = %tenant.id, scope = tripped.scope.as_str(), outcome = "rate_limited", "rate limit tripped");
        let mut event = self.event(tenant, AuditKind::RateLimited, Outcome::Refused);
        event.identifier = Some(identifier.masked());
        event.ip = caller.ip.map(str::to_owned);
        event.detail = Some(format!("scope={}", tripped.scope.as_str()));
        self.audit(event).await;
        Err(AuthError::RateLimited(tripped))
    }

    /// Counts one more consecutive wrong answer for the identifier.
    pub(super) async fn count_failure(
        &self,
        tenant: &Tenant,
        identifier: &Identifier,
    ) -> Result<(), AuthError> {
        let now = self.now();
        let failure = CounterKey {
            key: failure_key(tenant, identifier, &self.keys.current().pepper),
            expires_at: now.plus_secs(FAILURE_MEMORY_SECS),
        };
        self.stores
            .counters
            .increment(std::slice::from_ref(&failure), now)
            .await?;
        Ok(())
    }

    /// Refuses an identifier that reached its consecutive-failure cap, for a time that
    /// grows with every failure past the cap: new challenges, resends and answers alike, so
    /// a lock cannot be sidestepped with a challenge started before it.
    async fn refuse_if_locked(
        &self,
        tenant: &Tenant,
        identifier: &Identifier,
        pepper: &Pepper,
    ) -> Result<(), AuthError> {
        let now = self.now();
        let Some(failures) = self
            .stores
            .counters
            .get(&failure_key(tenant, identifier, pepper), now)
            .await?
        else {
            return Ok(());
        };
        let cap = u64::from(tenant.policy.identifier_failure_cap);
        if failures.count < cap {
            return Ok(());
        }
        let unlock_at = failures
            .updated_at
            .plus_secs(lockout_secs(failures.count - cap) as i64);
        if now >= unlock_at {
            return Ok(());
        }
        let mut event = self.event(tenant, AuditKind::IdentifierLocked, Outcome::Refused);
        event.identifier = Some(identifier.masked());
        self.audit(event).await;
        Err(AuthError::IdentifierLocked {
            retry_after_secs: now.secs_until(unlock_at),
        })
    }
}

fn failure_key(tenant: &Tenant, identifier: &Identifier, pepper: &crate::secret::Pepper) -> String {
    format!(
        "{}#failures#{}",
        tenant.id,
        identifier_digest(identifier, pepper)
    )
}

/// The redirect for a magic link: the caller's, if the tenant allows it exactly, or the
/// tenant's only allowed one when the caller gave none.
fn allowed_redirect(tenant: &Tenant, requested: Option<&str>) -> Result<String, AuthError> {
    match requested {
        Some(uri)
            if tenant
                .allowed_redirect_uris
                .iter()
                .any(|allowed| allowed == uri) =>
        {
            Ok(uri.to_owned())
        }
        Some(_) => Err(AuthError::RedirectNotAllowed),
        None => match tenant.allowed_redirect_uris.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(AuthError::RedirectRequired),
        },
    }
}

fn parse_answer(challenge: &Challenge, raw: &str) -> Result<Zeroizing<String>, AuthError> {
    match challenge.kind {
        ChallengeKind::Code { length } => OtpCode::parse(raw, length)
            .map(|code| Zeroizing::new(code.expose().to_owned()))
            .map_err(|_| AuthError::MalformedAnswer),
        ChallengeKind::MagicLink => OpaqueSecret::parse(raw)
            .map(|token| Zeroizing::new(token.expose().to_owned()))
            .map_err(|_| AuthError::MalformedAnswer),
    }
}

fn check_resend(challenge: &Challenge, now: Timestamp) -> Result<(), AuthError> {
    match challenge.status(now) {
        ChallengeStatus::Pending => check_cooldown_and_cap(
            challenge.resend_after,
            challenge.resends,
            challenge.max_resends,
            now,
        ),
        _ => Err(closed_error(challenge, now)),
    }
}

/// The resend rules of a live challenge (decoys keep them too).
pub(super) fn check_cooldown_and_cap(
    resend_after: Timestamp,
    resends: u32,
    max_resends: u32,
    now: Timestamp,
) -> Result<(), AuthError> {
    if resends >= max_resends {
        Err(AuthError::ResendLimitReached)
    } else if now < resend_after {
        Err(AuthError::ResendTooSoon {
            retry_after_secs: now.secs_until(resend_after),
        })
    } else {
        Ok(())
    }
}

/// Why a challenge no longer takes answers.
pub(super) fn closed_error(challenge: &Challenge, now: Timestamp) -> AuthError {
    match challenge.status(now) {
        ChallengeStatus::Expired => AuthError::ChallengeExpired,
        ChallengeStatus::Exhausted => AuthError::ChallengeExhausted,
        _ => AuthError::ChallengeUsed,
    }
}

#[cfg(test)]
mod tests {
    use super::lockout_secs;

    #[test]
    fn lockout_grows_and_is_capped() {
        assert_eq!(lockout_secs(0), 900);
        assert_eq!(lockout_secs(1), 1_800);
        assert_eq!(lockout_secs(50), 86_400);
    }
}
