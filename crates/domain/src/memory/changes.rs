//! Changes in the embedded store: every write's condition is checked first, then every
//! write is made and every event joins the outbox, all under the store's one lock — the
//! same all-or-nothing a DynamoDB transaction gives.

use async_trait::async_trait;

use super::{sweep, MemoryStore, Tables};
use crate::challenge::ChallengeState;
use crate::clock::Timestamp;
use crate::event::Event;
use crate::store::{Applied, Change, ChangeStore, CounterValue, StoreError, Write};
use crate::tenant::TenantId;

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

impl Tables {
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
                !self.users_by_identifier.contains_key(&(
                    user.tenant.clone(),
                    user.identifier.matching_key().to_owned(),
                )) && !self
                    .users_by_id
                    .contains_key(&(user.tenant.clone(), user.id.clone()))
            }
            Write::KeepUser(user) => self
                .users_by_identifier
                .get(&(
                    user.tenant.clone(),
                    user.identifier.matching_key().to_owned(),
                ))
                .is_some_and(|stored| stored.id == user.id),
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
            Write::CountFailure { key, seen, now } => {
                self.live_counter(&key.key, *now).map_or(0, |v| v.count) == *seen
            }
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
                self.users_by_identifier.insert(
                    (
                        user.tenant.clone(),
                        user.identifier.matching_key().to_owned(),
                    ),
                    user.clone(),
                );
                self.users_by_id
                    .insert((user.tenant.clone(), user.id.clone()), user.clone());
            }
            Write::KeepUser(_) => {}
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
            Write::CountFailure { key, seen, now } => {
                self.counters.insert(
                    key.key.clone(),
                    (
                        CounterValue {
                            count: seen + 1,
                            updated_at: *now,
                        },
                        key.expires_at,
                    ),
                );
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
    use crate::event::{EventKind, Outcome};
    use crate::store::CounterKey;

    #[tokio::test]
    async fn a_change_whose_condition_fails_writes_nothing_and_records_no_event() {
        let store = MemoryStore::new();
        let tenant = TenantId::parse("acme").unwrap();
        let key = CounterKey {
            key: "acme#failures#x".into(),
            expires_at: Timestamp(i64::MAX),
        };
        let event = Event::new(
            &tenant,
            EventKind::AnswerWrong,
            Outcome::Failure,
            Timestamp(1),
            &crate::clock::OsRandomness,
        );
        let change = |seen| Change {
            writes: vec![
                Write::ResetCounter {
                    key: "acme#other".into(),
                },
                Write::CountFailure {
                    key: key.clone(),
                    seen,
                    now: Timestamp(1),
                },
            ],
            events: vec![event.clone()],
        };
        assert_eq!(
            store.apply(&change(3)).await.unwrap(),
            Applied::Refused(vec![1])
        );
        assert!(store.lock().outbox.is_empty());
        assert_eq!(store.apply(&change(0)).await.unwrap(), Applied::Done);
        assert_eq!(
            store.recorded_event(&tenant, &event.id).await.unwrap(),
            Some(event)
        );
    }
}
