//! Which user a proved identifier signs in, and the write that says so in the sign-in's
//! transaction: a new user on a first sign-in, the same one (its sign-in recorded) while
//! it is enabled, and a new one when a phone number has been silent long enough to have
//! been given to someone else.

use super::{AuthKit, Caller};
use crate::challenge::Challenge;
use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::event::{Event, EventKind};
use crate::store::Write;
use crate::user::{User, UserId};

/// The user a sign-in opens its session for, the one write that checks or creates them,
/// and its events.
pub(super) struct SigningIn {
    pub user: User,
    pub is_new: bool,
    pub write: Write,
    pub events: Vec<Event>,
}

impl AuthKit {
    /// Decides for `found`, the user `challenge`'s identifier named when it was read.
    pub(super) fn user_signing_in(
        &self,
        caller: Caller<'_>,
        challenge: &Challenge,
        found: Option<&User>,
        now: Timestamp,
    ) -> Result<SigningIn, AuthError> {
        let new_user = || {
            User::new(
                UserId::generate(self.random.as_ref()),
                caller.tenant.id.clone(),
                challenge.identifier.clone(),
                now,
            )
        };
        let created_event = |created: &User| {
            let mut event = self.challenge_event(caller, challenge, EventKind::UserCreated);
            event.user_id = Some(created.id.clone());
            event
        };
        let reassign_after = caller.tenant.policy.phone_reassignment_after_days;
        Ok(match found {
            // A phone number silent for longer than the tenant allows is likely a recycled
            // one: its new holder gets a new user, never the old account (decision 96).
            // Checked first: the old account's state is not theirs.
            Some(existing)
                if existing.phone_looks_reassigned(&challenge.identifier, reassign_after, now) =>
            {
                let created = new_user();
                let mut released =
                    self.challenge_event(caller, challenge, EventKind::IdentifierReassigned);
                released.user_id = Some(existing.id.clone());
                released.detail = Some(format!("to={}", created.id));
                SigningIn {
                    write: Write::ReassignIdentifier {
                        previous: existing.clone(),
                        next: created.clone(),
                        at: now,
                    },
                    events: vec![released, created_event(&created)],
                    user: created,
                    is_new: true,
                }
            }
            // Only someone who just proved the identifier learns that its account is
            // disabled; nothing is written (decision 89).
            Some(existing) if existing.is_disabled() => return Err(AuthError::UserDisabled),
            Some(existing) => SigningIn {
                write: Write::KeepUser {
                    user: existing.clone(),
                    by: challenge.identifier.clone(),
                    at: now,
                },
                events: Vec::new(),
                user: existing.clone(),
                is_new: false,
            },
            None => {
                let created = new_user();
                SigningIn {
                    write: Write::InsertUser(created.clone()),
                    events: vec![created_event(&created)],
                    user: created,
                    is_new: true,
                }
            }
        })
    }
}
