//! Starting and resending challenges, and admitting requests past rate limits and locks.

use std::future::Future;

use zeroize::Zeroizing;

use super::{AuthKit, Caller};
use crate::challenge::{
    Challenge, ChallengeId, ChallengeKind, ChallengePurpose, ChallengeState, ChallengeStatus,
    ResponseMode,
};
use crate::clock::Timestamp;
use crate::delivery::{MessageContent, OutgoingMessage};
use crate::error::AuthError;
use crate::event::{Event, EventKind, Outcome, RefusalReason};
use crate::identifier::{Channel, Identifier};
use crate::pkce::CodeChallenge;
use crate::rate_limit::{identifier_digest, Action, CountedLimit, RateLimitPolicy, Subject};
use crate::secret::{OpaqueSecret, OtpCode, Pepper};
use crate::store::{
    Admission, Applied, Change, CounterKey, CounterLimit, CounterValue, FailureGate,
    FailureReservation, StoreError, Write,
};
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
pub(super) fn lockout_secs(failures_over_cap: u64) -> u64 {
    const BASE: u64 = 15 * 60;
    const CEILING: u64 = 24 * 3600;
    BASE.saturating_mul(1 << failures_over_cap.min(10))
        .min(CEILING)
}

/// Consecutive failures are remembered this long after the last one.
pub(super) const FAILURE_MEMORY_SECS: i64 = 7 * 24 * 3600;

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

    /// Stores the challenge of an admitted start with its event, in one change, and sends
    /// it.
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
        let started = self.challenge_event(caller, &challenge, EventKind::ChallengeStarted);
        self.apply_new(Change {
            writes: vec![Write::InsertChallenge(challenge.clone())],
            events: vec![started],
        })
        .await?;
        self.deliver(caller, &challenge, secret).await?;
        Ok(StartedChallenge::of(&challenge))
    }

    /// Every check a start makes before anything is stored or sent: the identifier, the
    /// channel, the redirect, the PKCE binding, rate limits and lockout. Decoys go through
    /// it too, so a sign-in for an account that does not exist is refused exactly when a
    /// real one would be.
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
        let code_challenge = super::magic_link::binding(request, tenant.policy.magic_link_pkce)?;
        self.admit(Action::Start, caller, &identifier, async {})
            .await?;
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
    /// stops working at once. Cooldown and the resend cap carry over from the old one, and
    /// so do its purpose and a magic link's binding.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn resend(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
    ) -> Result<StartedChallenge, AuthError> {
        let tenant = caller.tenant;
        let old = self.load_challenge(&tenant.id, challenge_id).await?;
        let now = self.now();
        check_resend(&old, now)?;
        self.admit(Action::Start, caller, &old.identifier, async {})
            .await?;

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
        let mut resent = self.challenge_event(caller, &new, EventKind::ChallengeResent);
        resent.detail = Some(format!("replaces={}", old.id));
        let change = Change {
            writes: vec![
                Write::SupersedeChallenge {
                    tenant: tenant.id.clone(),
                    id: old.id.clone(),
                    now,
                },
                Write::InsertChallenge(new.clone()),
            ],
            events: vec![resent],
        };
        match self.apply(change).await? {
            Applied::Done => {}
            Applied::Refused(failed) if failed.contains(&1) => {
                return Err(StoreError::AlreadyExists.into())
            }
            Applied::Refused(_) => {
                // Another request changed the old challenge first; report its state now.
                let current = self
                    .stores
                    .challenges
                    .get(&tenant.id, &old.id)
                    .await?
                    .ok_or(AuthError::ChallengeNotFound)?;
                check_resend(&current, now)?;
                return Err(AuthError::ChallengeUsed);
            }
        }
        self.deliver(caller, &new, secret).await?;
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

    /// An event about `challenge`, from `caller`: the masked identifier, never a secret.
    pub(super) fn challenge_event(
        &self,
        caller: Caller<'_>,
        challenge: &Challenge,
        kind: EventKind,
    ) -> Event {
        let mut event = self.event(caller.tenant, kind, Outcome::Success);
        event.challenge_id = Some(challenge.id.clone());
        event.identifier = Some(challenge.identifier.masked());
        event.channel = Some(challenge.channel);
        event.ip = caller.ip.map(str::to_owned);
        event
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

    /// Sends the secret. A failed send leaves the challenge pending and resendable at once
    /// (the provider may still deliver late, and a resend should not wait out a cooldown
    /// for a message that never left), records the failure, and says which challenge to
    /// resend.
    async fn deliver(
        &self,
        caller: Caller<'_>,
        challenge: &Challenge,
        secret: FreshSecret,
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
        let error = match self.sender.send(&message).await {
            Ok(receipt) => {
                tracing::info!(outcome = "delivered", channel = %challenge.channel, provider_message_id = %receipt.provider_message_id, "challenge delivered");
                return Ok(());
            }
            Err(error) => error,
        };
        tracing::warn!(outcome = "delivery_failed", channel = %challenge.channel, error = %error, "delivery failed");
        let now = self.now();
        let mut failed = self.challenge_event(caller, challenge, EventKind::DeliveryFailed);
        failed.outcome = Outcome::Failure;
        let reopened = self
            .apply(Change {
                writes: vec![Write::AllowResend {
                    tenant: tenant.id.clone(),
                    id: challenge.id.clone(),
                    now,
                }],
                events: vec![failed],
            })
            .await;
        let retry_after_secs = match reopened {
            Ok(Applied::Done) => 0,
            Ok(Applied::Refused(_)) => now.secs_until(challenge.resend_after),
            Err(store) => {
                tracing::error!(error = %store, "a failed delivery could not be recorded; the resend waits for the cooldown");
                now.secs_until(challenge.resend_after)
            }
        };
        Err(AuthError::DeliveryFailed {
            challenge_id: challenge.id.clone(),
            retry_after_secs,
            source: error,
        })
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

    /// Lets a request through, or refuses it because the identifier is locked (for actions
    /// that respect the lock) or a rate limit is reached. The client's own limits, the identifier's lock state and
    /// `alongside` (the request's own first step, so it costs no round trip of its own)
    /// share one round trip; the shared limits are asked only when the client's own and the
    /// lock let the request through, so a refused request never spends what the tenant or
    /// a country shares. Returns `alongside`'s output and the identifier's live failures.
    pub(super) async fn admit<T>(
        &self,
        action: Action,
        caller: Caller<'_>,
        identifier: &Identifier,
        alongside: impl Future<Output = T>,
    ) -> Result<Admitted<T>, AuthError> {
        let tenant = caller.tenant;
        let now = self.now();
        let pepper = self.keys.current().pepper.clone();
        let subject = Subject {
            tenant: &tenant.id,
            ip: caller.ip,
            identifier: Some(identifier),
            device: None,
        };
        let [own, shared] =
            tenant
                .policy
                .rate_limits
                .tiers(action, subject, now, &pepper, self.random.as_ref());
        let failure_key = failure_key(tenant, identifier, &pepper);
        // An answer reserves its failure before it is judged, so answers arriving together
        // one short of the cap cannot all be judged; a start only reads the lock.
        // (the failures seen, for the lock; the failures reserved by this answer)
        let failures = async {
            let read: Result<_, StoreError> = match action {
                Action::Verify => {
                    let gate = failure_gate(tenant, &failure_key, now);
                    Ok(match self.stores.counters.reserve_failure(&gate).await? {
                        FailureReservation::Reserved(reserved) => (None, Some(reserved)),
                        FailureReservation::Locked(seen) => (Some(seen), None),
                    })
                }
                _ if action.respects_lockout() => {
                    Ok((self.stores.counters.get(&failure_key, now).await?, None))
                }
                _ => Ok((None, None)),
            };
            read
        };
        let (own_admitted, failures, alongside) = futures::join!(
            self.admit_tier(&caller.tenant.id, &own, now),
            failures,
            alongside,
        );
        let (seen, failures) = failures?;
        if let Some(seen) = seen {
            self.refuse_if_locked(tenant, seen, now).await?;
        }
        let admitted = async {
            own_admitted?;
            self.admit_tier(&caller.tenant.id, &shared, now).await
        };
        if let Err(refused) = admitted.await {
            if failures.is_some() {
                self.release_failure(&failure_key).await;
            }
            return Err(refused);
        }
        Ok(Admitted {
            alongside,
            failures,
            failure_key,
        })
    }

    /// Gives back a failure reserved for an answer that was not judged. One that cannot be
    /// given back stays counted: the identifier is locked one answer early, never late.
    pub(super) async fn release_failure(&self, failure_key: &str) {
        if let Err(error) = self
            .stores
            .counters
            .release_failure(failure_key, self.now())
            .await
        {
            tracing::warn!(error = %error, "a reserved failure was not given back");
        }
    }

    pub(super) async fn admit_tier(
        &self,
        tenant: &crate::tenant::TenantId,
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
        tracing::info!(tenant = %tenant, scope = tripped.scope.as_str(), outcome = "rate_limited", "rate limit tripped");
        self.count_refusal(tenant, RefusalReason::RateLimited(tripped.scope))
            .await;
        Err(AuthError::RateLimited(tripped))
    }

    /// Refuses an identifier that reached its consecutive-failure cap, for a time that
    /// grows with every failure past the cap: new challenges, resends and answers alike, so
    /// a lock cannot be sidestepped with a challenge started before it.
    async fn refuse_if_locked(
        &self,
        tenant: &Tenant,
        failures: CounterValue,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let Some(unlock_at) = locked_until(tenant, failures) else {
            return Ok(());
        };
        if now >= unlock_at {
            return Ok(());
        }
        tracing::info!(tenant = %tenant.id, outcome = "identifier_locked", "identifier locked");
        self.count_refusal(&tenant.id, RefusalReason::IdentifierLocked)
            .await;
        Err(AuthError::IdentifierLocked {
            retry_after_secs: now.secs_until(unlock_at),
        })
    }
}

/// What admission read on its way.
pub(super) struct Admitted<T> {
    /// What ran alongside the first round trip.
    pub alongside: T,
    /// For an answer, the identifier's consecutive failures counting this one (reserved
    /// before it is judged); for anything else, none.
    pub failures: Option<CounterValue>,
    /// Where they are counted.
    pub failure_key: String,
}

/// When an identifier with these failures is unlocked, if they reach its tenant's cap.
pub(super) fn locked_until(tenant: &Tenant, failures: CounterValue) -> Option<Timestamp> {
    let cap = u64::from(tenant.policy.identifier_failure_cap);
    (failures.count >= cap).then(|| {
        failures
            .updated_at
            .plus_secs(lockout_secs(failures.count - cap) as i64)
    })
}

/// Lets an answer through while the identifier's failures are below the tenant's cap or
/// their lock has run out: the lock of `cap + k` failures lasts `lockout_secs(k)` from the
/// last one, up to the ceiling, which holds for every higher count.
fn failure_gate(tenant: &Tenant, failure_key: &str, now: Timestamp) -> FailureGate {
    let mut unlocked_if_counted_by = Vec::new();
    for past_cap in 0.. {
        let lock = lockout_secs(past_cap);
        unlocked_if_counted_by.push(now.plus_secs(-(lock as i64)));
        if lock == lockout_secs(past_cap + 1) {
            break;
        }
    }
    FailureGate {
        key: CounterKey {
            key: failure_key.to_owned(),
            expires_at: now.plus_secs(FAILURE_MEMORY_SECS),
        },
        cap: u64::from(tenant.policy.identifier_failure_cap),
        unlocked_if_counted_by,
        now,
    }
}

fn failure_key(tenant: &Tenant, identifier: &Identifier, pepper: &Pepper) -> String {
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
