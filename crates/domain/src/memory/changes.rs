//! Changes in the embedded store: every write's condition is checked first, then every
//! write is made and every event joins the outbox, all under the store's one lock — the
//! same all-or-nothing a DynamoDB transaction gives.

use async_trait::async_trait;

use super::{sweep, MemoryStore, Tables};
use crate::challenge::ChallengeState;
use crate::clock::Timestamp;
use crate::event::Event;
use crate::identifier::{Identifier, IdentifierKind};
use crate::store::{Applied, Change, ChangeStore, StoreError, Write};
use crate::tenant::TenantId;
use crate::user::User;

#[async_trait]
impl ChangeStore for MemoryStore {
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        let now = self.now();
        let mut tables = self.lock();
        let failed: Vec<usize> = change
            .writes
            .iter()
            .enumerate()
            .filter(|(_, write)| !tables.holds(write, now))
            .map(|(index, _)| index)
            .collect();
        if !failed.is_empty() {
            return Ok(Applied::Refused(failed));
        }
        for write in &change.writes {
            tables.perform(write, now);
        }
        tables.outbox.extend(change.events.iter().cloned());
        Ok(Applied::Done)
    }

    async fn recorded_event(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .find(|event| &event.tenant == tenant && event.id == id)
            .cloned())
    }
}

/// Gives `stored` (a copy of a user) `from`'s identifiers and sign-in times, keeping the
/// rest (`disabled_at` may have moved since `from` was read).
fn take_identity(stored: &mut User, from: &User) {
    stored.identifier = from.identifier.clone();
    stored.second_identifier = from.second_identifier.clone();
    stored.last_sign_in_at = from.last_sign_in_at;
    stored.identifier_reassigned_at = from.identifier_reassigned_at;
    stored.phone_used_at = from.phone_used_at;
}

fn identifier_key(user: &User, identifier: &Identifier) -> (TenantId, String) {
    (user.tenant.clone(), identifier.matching_key().to_owned())
}

impl Tables {
    /// Whether `identifier`'s item names this user.
    fn names(&self, user: &User, identifier: &Identifier) -> bool {
        self.users_by_identifier
            .get(&identifier_key(user, identifier))
            .is_some_and(|stored| stored.id == user.id)
    }

    /// Whether every item of the user (by id, by each identifier) exists and names them.
    fn holds_every_copy(&self, user: &User) -> bool {
        self.users_by_id
            .contains_key(&(user.tenant.clone(), user.id.clone()))
            && user
                .identifiers()
                .into_iter()
                .all(|identifier| self.names(user, identifier))
    }

    /// The stored copies of a user: by id, and by each identifier that names them.
    fn copies_of(&mut self, user: &User) -> Vec<&mut User> {
        let keys: Vec<(TenantId, String)> = user
            .identifiers()
            .into_iter()
            .map(|identifier| identifier_key(user, identifier))
            .collect();
        let by_id = self
            .users_by_id
            .get_mut(&(user.tenant.clone(), user.id.clone()));
        let by_identifier = self
            .users_by_identifier
            .iter_mut()
            .filter(|(key, stored)| keys.contains(key) && stored.id == user.id)
            .map(|(_, stored)| stored);
        by_id.into_iter().chain(by_identifier).collect()
    }

    /// Whether `write`'s condition holds now. `now` is the store's clock, for expiry of
    /// whole items (DynamoDB's TTL); a write's own `now` is the service's, for the domain's
    /// conditions.
    fn holds(&mut self, write: &Write, purge_now: Timestamp) -> bool {
        match write {
            Write::InsertChallenge(challenge) => self
                .live_challenge(&challenge.tenant, &challenge.id, purge_now)
                .is_none(),
            Write::VerifyChallenge {
                tenant, id, now, ..
            } => self
                .live_challenge(tenant, id, purge_now)
                .is_some_and(|c| c.accepts_verification(*now)),
            Write::ConsumeChallenge { tenant, id, now } => self
                .live_challenge(tenant, id, purge_now)
                .is_some_and(|c| c.accepts_consumption(*now)),
            Write::SupersedeChallenge { tenant, id, now } => self
                .live_challenge(tenant, id, purge_now)
                .is_some_and(|c| c.accepts_resend(*now)),
            Write::AllowResend { tenant, id, .. } => self
                .live_challenge(tenant, id, purge_now)
                .is_some_and(|c| c.state == ChallengeState::Pending),
            Write::InsertUser(user) => {
                user.identifiers().into_iter().all(|identifier| {
                    !self
                        .users_by_identifier
                        .contains_key(&identifier_key(user, identifier))
                }) && !self
                    .users_by_id
                    .contains_key(&(user.tenant.clone(), user.id.clone()))
            }
            Write::KeepUser { user, by, .. } => {
                self.holds_every_copy(user)
                    && self
                        .users_by_identifier
                        .get(&identifier_key(user, by))
                        .is_some_and(|stored| stored.id == user.id && !stored.is_disabled())
            }
            Write::KeepUserEnabled { tenant, user } => self
                .users_by_id
                .get(&(tenant.clone(), user.clone()))
                .is_some_and(|stored| !stored.is_disabled()),
            Write::SetUserDisabled { user, .. } => self.holds_every_copy(user),
            Write::ReassignIdentifier { previous, next, at } => {
                self.names(previous, &next.identifier)
                    && self.holds_every_copy(&previous.after_phone_reassigned(*at))
                    && !self
                        .users_by_id
                        .contains_key(&(next.tenant.clone(), next.id.clone()))
            }
            Write::DeleteUser(user) => self
                .users_by_id
                .contains_key(&(user.tenant.clone(), user.id.clone())),
            Write::SetIdentifiers { user, next } => {
                let unchanged = self
                    .users_by_id
                    .get(&(user.tenant.clone(), user.id.clone()))
                    .is_some_and(|stored| {
                        !stored.is_disabled()
                            && stored.identifier == user.identifier
                            && stored.second_identifier == user.second_identifier
                    });
                let was: Vec<&str> = user
                    .identifiers()
                    .into_iter()
                    .map(Identifier::matching_key)
                    .collect();
                unchanged
                    && self.holds_every_copy(user)
                    && next.identifiers().into_iter().all(|identifier| {
                        was.contains(&identifier.matching_key())
                            || !self
                                .users_by_identifier
                                .contains_key(&identifier_key(user, identifier))
                    })
            }
            Write::InsertSession(family) => !self
                .sessions
                .contains_key(&(family.tenant.clone(), family.id.clone())),
            Write::RotateSession {
                tenant,
                id,
                expected,
                ..
            } => self
                .sessions
                .get(&(tenant.clone(), id.clone()))
                .is_some_and(|f| f.revoked_at.is_none() && f.current_hash == *expected),
            Write::RevokeSession { tenant, id, .. } => {
                self.sessions.contains_key(&(tenant.clone(), id.clone()))
            }
            Write::InsertDevice(device) => !self.devices.contains_key(&(
                device.tenant.clone(),
                device.user_id.clone(),
                device.id.clone(),
            )),
            Write::RevokeDevice {
                tenant, user, id, ..
            } => self
                .devices
                .get(&(tenant.clone(), user.clone(), id.clone()))
                .is_some_and(|device| device.is_active()),
            Write::RecordDeviceSignIn(sign_in) => self
                .devices
                .get(&(
                    sign_in.tenant.clone(),
                    sign_in.user.clone(),
                    sign_in.device.clone(),
                ))
                .is_some_and(|device| device.is_active()),
            Write::ResetCounter { .. } | Write::AddRefusals { .. } => true,
        }
    }

    /// Makes `write`, whose condition was checked.
    fn perform(&mut self, write: &Write, purge_now: Timestamp) {
        match write {
            Write::InsertChallenge(challenge) => {
                self.challenges.insert(
                    (challenge.tenant.clone(), challenge.id.clone()),
                    challenge.clone(),
                );
                sweep(&mut self.challenges, &mut self.challenges_swept, |c| {
                    purge_now >= c.purge_at()
                });
            }
            Write::VerifyChallenge {
                tenant,
                id,
                exchange_hash,
                ..
            } => {
                if let Some(c) = self.live_challenge(tenant, id, purge_now) {
                    c.state = ChallengeState::Verified;
                    c.exchange_hash = *exchange_hash;
                }
            }
            Write::ConsumeChallenge { tenant, id, .. } => {
                if let Some(c) = self.live_challenge(tenant, id, purge_now) {
                    c.state = ChallengeState::Consumed;
                }
            }
            Write::SupersedeChallenge { tenant, id, .. } => {
                if let Some(c) = self.live_challenge(tenant, id, purge_now) {
                    c.state = ChallengeState::Superseded;
                }
            }
            Write::AllowResend { tenant, id, now } => {
                if let Some(c) = self.live_challenge(tenant, id, purge_now) {
                    c.resend_after = *now;
                }
            }
            Write::InsertUser(user) => {
                for identifier in user.identifiers() {
                    self.users_by_identifier
                        .insert(identifier_key(user, identifier), user.clone());
                }
                self.users_by_id
                    .insert((user.tenant.clone(), user.id.clone()), user.clone());
            }
            Write::KeepUserEnabled { .. } => {}
            Write::KeepUser { user, by, at } => {
                let by_phone = by.kind() == IdentifierKind::Phone;
                for stored in self.copies_of(user) {
                    stored.last_sign_in_at = Some(*at);
                    if by_phone {
                        stored.phone_used_at = Some(*at);
                    }
                }
            }
            Write::SetUserDisabled { user, disabled_at } => {
                for stored in self.copies_of(user) {
                    stored.disabled_at = *disabled_at;
                }
            }
            Write::ReassignIdentifier { previous, next, at } => {
                let remaining = previous.after_phone_reassigned(*at);
                for stored in self.copies_of(&remaining) {
                    take_identity(stored, &remaining);
                }
                self.users_by_identifier
                    .insert(identifier_key(next, &next.identifier), next.clone());
                self.users_by_id
                    .insert((next.tenant.clone(), next.id.clone()), next.clone());
            }
            Write::SetIdentifiers { user, next } => {
                for identifier in user.identifiers() {
                    self.users_by_identifier
                        .remove(&identifier_key(user, identifier));
                }
                let by_id = (user.tenant.clone(), user.id.clone());
                let Some(stored) = self.users_by_id.get_mut(&by_id) else {
                    return;
                };
                take_identity(stored, next);
                let moved = stored.clone();
                for identifier in next.identifiers() {
                    self.users_by_identifier
                        .insert(identifier_key(next, identifier), moved.clone());
                }
            }
            Write::DeleteUser(user) => {
                for identifier in user.identifiers() {
                    if self.names(user, identifier) {
                        self.users_by_identifier
                            .remove(&identifier_key(user, identifier));
                    }
                }
                self.users_by_id
                    .remove(&(user.tenant.clone(), user.id.clone()));
            }
            Write::InsertSession(family) => {
                self.sessions
                    .insert((family.tenant.clone(), family.id.clone()), family.clone());
                sweep(&mut self.sessions, &mut self.sessions_swept, |f| {
                    purge_now >= f.expires_at
                });
            }
            Write::RotateSession {
                tenant,
                id,
                next,
                now,
                ..
            } => {
                if let Some(family) = self.sessions.get_mut(&(tenant.clone(), id.clone())) {
                    family.current_hash = *next;
                    family.generation += 1;
                    family.rotated_at = *now;
                }
            }
            Write::RevokeSession { tenant, id, now } => {
                if let Some(family) = self.sessions.get_mut(&(tenant.clone(), id.clone())) {
                    family.revoked_at.get_or_insert(*now);
                }
            }
            Write::InsertDevice(device) => {
                self.devices.insert(
                    (
                        device.tenant.clone(),
                        device.user_id.clone(),
                        device.id.clone(),
                    ),
                    device.clone(),
                );
            }
            Write::RevokeDevice {
                tenant,
                user,
                id,
                now,
            } => {
                if let Some(device) =
                    self.devices
                        .get_mut(&(tenant.clone(), user.clone(), id.clone()))
                {
                    device.revoked_at = Some(*now);
                }
            }
            Write::RecordDeviceSignIn(sign_in) => {
                let key = (
                    sign_in.tenant.clone(),
                    sign_in.user.clone(),
                    sign_in.device.clone(),
                );
                if let Some(device) = self.devices.get_mut(&key) {
                    device.last_seen = sign_in.at;
                }
                let sessions = self.device_sessions.entry(key).or_default();
                sessions.retain(|_, expires_at| sign_in.at < *expires_at);
                sessions.insert(sign_in.family.clone(), sign_in.session_expires_at);
            }
            Write::ResetCounter { key } => {
                self.counters.remove(key);
            }
            Write::AddRefusals {
                tenant,
                reason,
                minute,
                count,
            } => self.add_refusals(tenant, *reason, *minute, *count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandomness;
    use crate::device::DeviceId;
    use crate::event::{EventKind, Outcome};
    use crate::user::UserId;

    #[tokio::test]
    async fn a_change_whose_condition_fails_writes_nothing_and_records_no_event() {
        let store = MemoryStore::new();
        let tenant = TenantId::parse("acme").unwrap();
        let event = Event::new(
            &tenant,
            EventKind::AnswerWrong,
            Outcome::Failure,
            Timestamp(1),
            &OsRandomness,
        );
        // Revoking a device that does not exist fails its condition.
        let change = |revoke_a_stranger: bool| {
            let mut writes = vec![Write::ResetCounter {
                key: "acme#other".into(),
            }];
            if revoke_a_stranger {
                writes.push(Write::RevokeDevice {
                    tenant: tenant.clone(),
                    user: UserId::generate(&OsRandomness),
                    id: DeviceId::generate(&OsRandomness),
                    now: Timestamp(1),
                });
            }
            Change {
                writes,
                events: vec![event.clone()],
            }
        };
        assert_eq!(
            store.apply(&change(true)).await.unwrap(),
            Applied::Refused(vec![1])
        );
        assert!(store.lock().outbox.is_empty());
        assert_eq!(store.apply(&change(false)).await.unwrap(), Applied::Done);
        assert_eq!(
            store.recorded_event(&tenant, &event.id).await.unwrap(),
            Some(event)
        );
    }
}
