//! Sign-ins for accounts that do not exist, shown like real ones. A user directory that
//! hides which accounts exist (Cognito with `PreventUserExistenceErrors`) still lets
//! AuthKit run for an unknown user; answering it differently from a known one — failing at
//! once, no masked destination, never rate limited, never locked — would tell anyone who
//! has an account. A decoy passes the same checks and counts the same limits as a real
//! sign-in, but nothing is stored or sent, so no answer can be right. Its state travels
//! with the caller's session.

use super::sign_in::check_cooldown_and_cap;
use super::{AuthKit, Caller, StartRequest, StartedChallenge};
use crate::challenge::{ChallengeId, ChallengeKind};
use crate::error::AuthError;
use crate::event::{EventKind, Outcome};
use crate::identifier::{Channel, Identifier};
use crate::rate_limit::Action;

/// A decoy as its session remembers it: what the client was shown, and how many resends
/// came before (real challenges carry their resend count the same way).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecoyChallenge {
    pub shown: StartedChallenge,
    pub resends: u32,
}

impl AuthKit {
    /// What [`AuthKit::start_sign_in`] would answer for `request`, with the same checks,
    /// rate-limit counts and lockout, but nothing stored or sent.
    pub async fn start_decoy(
        &self,
        caller: Caller<'_>,
        request: StartRequest<'_>,
    ) -> Result<DecoyChallenge, AuthError> {
        let admitted = self.admit_start(caller, &request).await?;
        Ok(DecoyChallenge {
            shown: self.decoy_shown(
                caller,
                admitted.kind,
                admitted.channel,
                &admitted.identifier,
            ),
            resends: 0,
        })
    }

    /// A later round of a decoy, as a real challenge would go on: the same while it would
    /// still be live, a fresh one once it would have expired, and on `resend` a new one
    /// under the same cooldown, cap and rate limits as [`AuthKit::resend`].
    pub async fn continue_decoy(
        &self,
        caller: Caller<'_>,
        request: StartRequest<'_>,
        previous: &DecoyChallenge,
        resend: bool,
    ) -> Result<DecoyChallenge, AuthError> {
        let now = self.now();
        let live = now < previous.shown.expires_at;
        match (resend, live) {
            (false, true) => return Ok(previous.clone()),
            (false, false) => return self.start_decoy(caller, request).await,
            (true, false) => return Err(AuthError::ChallengeExpired),
            (true, true) => {}
        }
        check_cooldown_and_cap(
            previous.shown.resend_after,
            previous.resends,
            caller.tenant.policy.max_resends,
            now,
        )?;
        let identifier = decoy_identifier(caller, request.identifier)?;
        self.admit(Action::Start, caller, &identifier, async {})
            .await?;
        Ok(DecoyChallenge {
            shown: self.decoy_shown(
                caller,
                previous.shown.kind,
                previous.shown.channel,
                &identifier,
            ),
            resends: previous.resends + 1,
        })
    }

    /// A wrong answer to a decoy, counted like one to a real challenge (verify rate
    /// limits, the identifier's consecutive failures, reserved before it is judged, with the same events
    /// a wrong answer records and the lock's when it reaches the cap), so limits and
    /// lockouts fall alike.
    pub async fn reject_decoy_answer(
        &self,
        caller: Caller<'_>,
        identifier: &str,
    ) -> Result<(), AuthError> {
        let Ok(identifier) = decoy_identifier(caller, identifier) else {
            return Ok(());
        };
        let admitted = self
            .admit(Action::Verify, caller, &identifier, async {})
            .await?;
        let about = |kind| {
            let mut event = self.event(caller.tenant, kind, Outcome::Failure);
            event.identifier = Some(identifier.masked());
            event.ip = caller.ip.map(str::to_owned);
            event
        };
        // Only the audit log sees that the account does not exist; the caller cannot.
        let mut wrong = about(EventKind::AnswerWrong);
        wrong.detail = Some("decoy".to_owned());
        self.record_failure(
            caller,
            wrong,
            about(EventKind::IdentifierLocked),
            admitted.failures,
        )
        .await
    }

    /// What the client is shown, with a fresh id and the times a new challenge would get.
    fn decoy_shown(
        &self,
        caller: Caller<'_>,
        kind: ChallengeKind,
        channel: Channel,
        identifier: &Identifier,
    ) -> StartedChallenge {
        let policy = &caller.tenant.policy;
        let now = self.now();
        StartedChallenge {
            id: ChallengeId::generate(self.random.as_ref()),
            kind,
            channel,
            masked_destination: identifier.masked(),
            expires_at: now.plus_secs(i64::from(policy.challenge_ttl_secs)),
            resend_after: now.plus_secs(i64::from(policy.resend_cooldown_secs)),
        }
    }
}

fn decoy_identifier(caller: Caller<'_>, raw: &str) -> Result<Identifier, AuthError> {
    Ok(Identifier::parse(raw, caller.tenant.policy.default_region)?)
}
