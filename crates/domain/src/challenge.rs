//! A challenge is one sign-in attempt: a one-time code or a magic link sent to an
//! identifier, answered at most `max_attempts` times before it expires.
//!
//! Stored state moves `Pending → Verified → Consumed`, or `Pending → Superseded` (a resend
//! replaced it). `Undelivered` is only read: releases before decision 74 wrote it when a
//! message could not be sent (now the challenge stays pending and resendable). `Expired` and
//! `Exhausted` are derived from the clock and the attempt count, so no background job has
//! to flip them and a store's conditional update can test them directly.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::identifier::{Channel, Identifier};
use crate::pkce::CodeChallenge;
use crate::secret::{prefixed_id, CodeLength, SecretHash};
use crate::tenant::TenantId;

prefixed_id!(
    /// A challenge's public handle: `ch_` and 128 random bits.
    ChallengeId,
    "ch_"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ChallengeKind {
    Code { length: CodeLength },
    MagicLink,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::Code { .. } => "code",
            ChallengeKind::MagicLink => "magic_link",
        }
    }
}

/// What a right answer is good for. A challenge serves one purpose only: a code that
/// proves a new contact must not sign anyone in, and a sign-in code must not add a contact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ChallengePurpose {
    /// Signing in as the identifier (the HTTP API, Cognito's CUSTOM_AUTH).
    #[default]
    SignIn,
    /// Proving the identifier is a contact of `account`, an account an outside user
    /// directory keeps (a Cognito user), which is signed in already.
    AddContact { account: String },
}

/// A key under which a store finds the challenges about someone (`identifier#<matching
/// key>` or `account#<account>`), without reading every challenge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChallengeOwner(String);

impl ChallengeOwner {
    pub fn identifier(identifier: &Identifier) -> ChallengeOwner {
        ChallengeOwner(format!("identifier#{}", identifier.matching_key()))
    }

    pub fn account(account: &str) -> ChallengeOwner {
        ChallengeOwner(format!("account#{account}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a confirmed magic link puts its result in the redirect URI (decisions 65, 66).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// `#authkit_result=…`: seen only by the app's page.
    #[default]
    Fragment,
    /// `?authkit_result=…`: for callbacks that are server routes; bound links only.
    Query,
}

impl ResponseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Fragment => "fragment",
            ResponseMode::Query => "query",
        }
    }

    pub fn parse(raw: &str) -> Option<ResponseMode> {
        [ResponseMode::Fragment, ResponseMode::Query]
            .into_iter()
            .find(|mode| mode.as_str() == raw)
    }
}

/// What the store records. See the module docs for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeState {
    Pending,
    Verified,
    Consumed,
    Superseded,
    Undelivered,
}

impl ChallengeState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeState::Pending => "pending",
            ChallengeState::Verified => "verified",
            ChallengeState::Consumed => "consumed",
            ChallengeState::Superseded => "superseded",
            ChallengeState::Undelivered => "undelivered",
        }
    }

    pub fn parse(raw: &str) -> Option<ChallengeState> {
        [
            ChallengeState::Pending,
            ChallengeState::Verified,
            ChallengeState::Consumed,
            ChallengeState::Superseded,
            ChallengeState::Undelivered,
        ]
        .into_iter()
        .find(|state| state.as_str() == raw)
    }
}

/// What a challenge is at a given moment: its stored state, or expired / exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStatus {
    Pending,
    Verified,
    Consumed,
    Superseded,
    Undelivered,
    Expired,
    Exhausted,
}

/// How long a challenge item is kept after it expires, for support and audit questions.
pub const RETENTION_AFTER_EXPIRY_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: ChallengeId,
    pub tenant: TenantId,
    pub identifier: Identifier,
    pub channel: Channel,
    pub kind: ChallengeKind,
    /// HMAC(pepper, id ‖ secret); the secret itself is never stored.
    pub secret_hash: SecretHash,
    pub state: ChallengeState,
    /// Answers counted so far, right or wrong.
    pub attempts: u32,
    pub max_attempts: u32,
    /// Resends that came before this challenge in its chain.
    pub resends: u32,
    pub max_resends: u32,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub resend_after: Timestamp,
    /// Where a magic link returns the person to; checked against the tenant's list.
    pub redirect_uri: Option<String>,
    /// Magic links: the hash of the one-time result the app exchanges for tokens, set when
    /// the link is confirmed.
    pub exchange_hash: Option<SecretHash>,
    /// Items written before purposes existed are sign-ins.
    #[serde(default)]
    pub purpose: ChallengePurpose,
    /// Magic links an app bound to itself (PKCE): the result is exchanged only with the
    /// verifier behind this challenge. Absent in items written before it existed.
    #[serde(default)]
    pub code_challenge: Option<CodeChallenge>,
    #[serde(default)]
    pub response_mode: ResponseMode,
}

impl Challenge {
    pub fn status(&self, now: Timestamp) -> ChallengeStatus {
        match self.state {
            ChallengeState::Pending if self.attempts >= self.max_attempts => {
                ChallengeStatus::Exhausted
            }
            ChallengeState::Pending | ChallengeState::Verified if now >= self.expires_at => {
                ChallengeStatus::Expired
            }
            ChallengeState::Pending => ChallengeStatus::Pending,
            ChallengeState::Verified => ChallengeStatus::Verified,
            ChallengeState::Consumed => ChallengeStatus::Consumed,
            ChallengeState::Superseded => ChallengeStatus::Superseded,
            ChallengeState::Undelivered => ChallengeStatus::Undelivered,
        }
    }

    /// The condition every store checks, atomically, before counting an answer.
    pub fn accepts_attempt(&self, now: Timestamp) -> bool {
        self.status(now) == ChallengeStatus::Pending
    }

    /// The condition for `Pending → Verified` once a counted answer proved right: the
    /// answer may have used the last attempt, so only state and expiry are checked.
    pub fn accepts_verification(&self, now: Timestamp) -> bool {
        self.state == ChallengeState::Pending && now < self.expires_at
    }

    /// The condition for `Verified → Consumed` (a magic link's result exchanged).
    pub fn accepts_consumption(&self, now: Timestamp) -> bool {
        self.state == ChallengeState::Verified && now < self.expires_at
    }

    /// The condition for a resend to replace this challenge.
    pub fn accepts_resend(&self, now: Timestamp) -> bool {
        self.status(now) == ChallengeStatus::Pending
            && now >= self.resend_after
            && self.resends < self.max_resends
    }

    /// The context mixed into the secret's hash, so a hash cannot be replayed on another
    /// challenge.
    pub fn secret_context(id: &ChallengeId) -> String {
        format!("challenge:{id}")
    }

    pub fn exchange_context(id: &ChallengeId) -> String {
        format!("exchange:{id}")
    }

    /// When the store may forget the item (DynamoDB TTL).
    pub fn purge_at(&self) -> Timestamp {
        self.expires_at.plus_secs(RETENTION_AFTER_EXPIRY_SECS)
    }

    /// Whom the challenge is about, as erasure finds it (decision 120): the identifier it
    /// was sent to, and the account a contact proof is bound to. A store links the
    /// challenge under each, in the start's own change, until it is purged.
    pub fn owners(&self) -> Vec<ChallengeOwner> {
        let mut owners = vec![ChallengeOwner::identifier(&self.identifier)];
        if let ChallengePurpose::AddContact { account } = &self.purpose {
            owners.push(ChallengeOwner::account(account));
        }
        owners
    }

    pub fn remaining_attempts(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempts)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::OsRandomness;
    use crate::secret::Pepper;

    pub fn sample(now: Timestamp) -> Challenge {
        let random = OsRandomness;
        let id = ChallengeId::generate(&random);
        let pepper = Pepper::generate(&random);
        Challenge {
            secret_hash: pepper.hash(&Challenge::secret_context(&id), b"123456"),
            id,
            tenant: TenantId::parse("acme").unwrap(),
            identifier: Identifier::parse("a@example.com", None).unwrap(),
            channel: Channel::Email,
            kind: ChallengeKind::Code {
                length: CodeLength::DEFAULT,
            },
            state: ChallengeState::Pending,
            attempts: 0,
            max_attempts: 5,
            resends: 0,
            max_resends: 3,
            created_at: now,
            expires_at: now.plus_secs(600),
            resend_after: now.plus_secs(30),
            redirect_uri: None,
            exchange_hash: None,
            purpose: ChallengePurpose::SignIn,
            code_challenge: None,
            response_mode: ResponseMode::Fragment,
        }
    }

    #[test]
    fn status_is_derived_from_state_clock_and_attempts() {
        let now = Timestamp(1_000);
        let mut challenge = sample(now);
        assert_eq!(challenge.status(now), ChallengeStatus::Pending);
        assert_eq!(
            challenge.status(now.plus_secs(600)),
            ChallengeStatus::Expired
        );
        challenge.attempts = 5;
        assert_eq!(challenge.status(now), ChallengeStatus::Exhausted);
        challenge.attempts = 0;
        challenge.state = ChallengeState::Consumed;
        assert_eq!(
            challenge.status(now.plus_secs(10_000)),
            ChallengeStatus::Consumed
        );
    }

    #[test]
    fn the_last_attempt_can_still_verify_but_not_after_expiry() {
        let now = Timestamp(1_000);
        let mut challenge = sample(now);
        challenge.attempts = challenge.max_attempts;
        assert!(!challenge.accepts_attempt(now));
        assert!(challenge.accepts_verification(now));
        assert!(!challenge.accepts_verification(now.plus_secs(600)));
    }

    #[test]
    fn resend_waits_for_the_cooldown_and_respects_the_cap() {
        let now = Timestamp(1_000);
        let mut challenge = sample(now);
        assert!(!challenge.accepts_resend(now.plus_secs(29)));
        assert!(challenge.accepts_resend(now.plus_secs(30)));
        challenge.resends = 3;
        assert!(!challenge.accepts_resend(now.plus_secs(30)));
    }

    #[test]
    fn a_challenge_stored_before_pkce_existed_still_reads() {
        let mut stored = serde_json::to_value(sample(Timestamp(1_000))).unwrap();
        let fields = stored.as_object_mut().unwrap();
        assert!(fields.remove("code_challenge").is_some());
        assert!(fields.remove("response_mode").is_some());
        let read: Challenge = serde_json::from_value(stored).unwrap();
        assert_eq!(read.code_challenge, None);
        assert_eq!(read.response_mode, ResponseMode::Fragment);
    }

    #[test]
    fn ids_parse_only_their_own_shape() {
        let id = ChallengeId::generate(&OsRandomness);
        assert_eq!(ChallengeId::parse(id.as_str()).unwrap(), id);
        assert!(ChallengeId::parse("ch_XYZ").is_err());
        assert!(ChallengeId::parse(&id.as_str().replace("ch_", "usr_")).is_err());
    }

    mod state_machine {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Step {
            Wait(i64),
            Answer { right: bool },
            Resend,
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                (0i64..200).prop_map(Step::Wait),
                any::<bool>().prop_map(|right| Step::Answer { right }),
                Just(Step::Resend),
            ]
        }

        proptest! {
            /// Drives the transitions the way the service does and checks the invariants
            /// any sequence of waits, answers and resends must keep.
            #[test]
            fn invariants_hold_for_any_sequence(steps in proptest::collection::vec(step(), 0..40)) {
                let mut now = Timestamp(1_000);
                let mut challenge = sample(now);
                let mut verified_count = 0;
                for step in steps {
                    match step {
                        Step::Wait(secs) => now = now.plus_secs(secs),
                        Step::Answer { right } => {
                            if challenge.accepts_attempt(now) {
                                challenge.attempts += 1;
                                if right && challenge.accepts_verification(now) {
                                    challenge.state = ChallengeState::Verified;
                                    verified_count += 1;
                                }
                            }
                        }
                        Step::Resend => {
                            if challenge.accepts_resend(now) {
                                let resends = challenge.resends + 1;
                                challenge = Challenge { resends, resend_after: now.plus_secs(30), expires_at: now.plus_secs(600), ..sample(now) };
                            }
                        }
                    }
                    prop_assert!(challenge.attempts <= challenge.max_attempts);
                    prop_assert!(challenge.resends <= challenge.max_resends);
                    prop_assert!(verified_count <= 1, "a challenge was verified twice");
                    if challenge.state == ChallengeState::Verified {
                        prop_assert!(!challenge.accepts_attempt(now));
                        prop_assert!(!challenge.accepts_verification(now));
                        prop_assert!(!challenge.accepts_resend(now));
                    }
                    if now >= challenge.expires_at {
                        prop_assert!(!challenge.accepts_attempt(now));
                        prop_assert!(!challenge.accepts_verification(now));
                    }
                }
            }
        }
    }
}
