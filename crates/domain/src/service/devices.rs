//! Binding, listing and revoking devices, and signing in with a trusted one.

use std::fmt;

use super::{AuthKit, Caller, SignedIn};
use crate::clock::Timestamp;
use crate::device::{Device, DeviceId, Fingerprint, TrustLevel};
use crate::error::AuthError;
use crate::event::{EventKind, Outcome, RefusalReason};
use crate::rate_limit::{Action, Subject};
use crate::secret::{MalformedSecret, OpaqueSecret};
use crate::store::{Admission, Applied, Change, CounterKey, CounterLimit, DeviceSignIn, Write};
use crate::token::AccessClaims;
use crate::user::UserId;

/// The `amr` of a session a trusted device opened.
const DEVICE_METHOD: &str = "device";

/// What a client keeps to sign in again from a trusted device:
/// `<user id>.<device id>.<secret>`. Only the secret's hash is stored.
#[derive(Clone)]
pub struct DeviceCredential {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub secret: OpaqueSecret,
}

impl DeviceCredential {
    pub fn parse(raw: &str) -> Result<DeviceCredential, MalformedSecret> {
        let mut parts = raw.splitn(3, '.');
        let (Some(user), Some(device), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(MalformedSecret);
        };
        Ok(DeviceCredential {
            user_id: UserId::parse(user).map_err(|_| MalformedSecret)?,
            device_id: DeviceId::parse(device).map_err(|_| MalformedSecret)?,
            secret: OpaqueSecret::parse(secret)?,
        })
    }

    pub fn reveal(&self) -> String {
        format!(
            "{}.{}.{}",
            self.user_id,
            self.device_id,
            self.secret.expose()
        )
    }
}

impl fmt::Debug for DeviceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceCredential({}, ***)", self.device_id)
    }
}

#[derive(Debug, Clone)]
pub struct BoundDevice {
    pub device: Device,
    pub credential: DeviceCredential,
}

/// Fingerprint mismatches (with the right secret) in a day that revoke a device.
pub const FINGERPRINT_MISMATCHES_TO_REVOKE: u32 = 5;

/// How recent a sign-in by code or link must be to bind a device (decision 36).
pub const BIND_STEP_UP_WINDOW_SECS: i64 = 600;

impl AuthKit {
    /// Binds the device the signed-in user is using. The credential is returned once.
    /// Binding hands out a credential that signs in without a code, so it needs the user to
    /// have proved who they are with a code or a link in the last ten minutes: a session a
    /// device opened (or an old one kept alive by refreshes) cannot mint more devices.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn bind_device(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
        fingerprint: Fingerprint,
        name: Option<String>,
        trusted: bool,
    ) -> Result<BoundDevice, AuthError> {
        let now = self.now();
        self.require_recent_proof(claims)?;
        fingerprint.validate()?;
        let name = name.map(|n| n.chars().take(100).collect::<String>());
        let credential = DeviceCredential {
            user_id: claims.sub.clone(),
            device_id: DeviceId::generate(self.random.as_ref()),
            secret: OpaqueSecret::generate(self.random.as_ref()),
        };
        let device = Device {
            secret_hash: self.keys.current().pepper.hash(
                &Device::secret_context(&credential.device_id),
                credential.secret.expose().as_bytes(),
            ),
            id: credential.device_id.clone(),
            tenant: caller.tenant.id.clone(),
            user_id: claims.sub.clone(),
            name,
            fingerprint,
            trust: if trusted {
                TrustLevel::Trusted
            } else {
                TrustLevel::Recognised
            },
            created_at: now,
            last_seen: now,
            revoked_at: None,
        };
        let mut bound = self.event(caller.tenant, EventKind::DeviceBound, Outcome::Success);
        bound.user_id = Some(claims.sub.clone());
        bound.device_id = Some(device.id.clone());
        bound.ip = caller.ip.map(str::to_owned);
        self.apply_new(Change {
            writes: vec![Write::InsertDevice(device.clone())],
            events: vec![bound],
        })
        .await?;
        Ok(BoundDevice { device, credential })
    }

    pub async fn list_devices(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
    ) -> Result<Vec<Device>, AuthError> {
        Ok(self
            .stores
            .devices
            .list(&caller.tenant.id, &claims.sub)
            .await?)
    }

    /// Revokes one of the user's devices and ends every session it signed in. Repeating it
    /// for an already revoked device ends any session still left (then answers not found),
    /// so a revocation interrupted half-way can be finished.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn revoke_device(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
        device_id: &str,
    ) -> Result<(), AuthError> {
        let id = DeviceId::parse(device_id).map_err(|_| AuthError::DeviceNotFound)?;
        match self
            .revoke_device_and_sessions(caller, &claims.sub, &id, None)
            .await?
        {
            Applied::Done => Ok(()),
            Applied::Refused(_) => Err(AuthError::DeviceNotFound),
        }
    }

    /// Revokes a device, then ends every session it signed in; `why` goes in the event's
    /// detail when AuthKit, not the user, revoked it.
    async fn revoke_device_and_sessions(
        &self,
        caller: Caller<'_>,
        user: &UserId,
        id: &DeviceId,
        why: Option<&str>,
    ) -> Result<Applied, AuthError> {
        let tenant = &caller.tenant.id;
        let now = self.now();
        let mut revoked = self.event(caller.tenant, EventKind::DeviceRevoked, Outcome::Success);
        revoked.user_id = Some(user.clone());
        revoked.device_id = Some(id.clone());
        revoked.ip = caller.ip.map(str::to_owned);
        revoked.detail = why.map(str::to_owned);
        let revocation = self
            .apply(Change {
                writes: vec![Write::RevokeDevice {
                    tenant: tenant.clone(),
                    user: user.clone(),
                    id: id.clone(),
                    now,
                }],
                events: vec![revoked],
            })
            .await?;
        // Read after the revocation is written: a sign-in that linked its session earlier
        // is listed here; one that comes later finds the device revoked.
        let sessions = self.stores.devices.sessions(tenant, user, id, now).await?;
        for family in sessions {
            let mut ended = self.event(caller.tenant, EventKind::SessionRevoked, Outcome::Success);
            ended.user_id = Some(user.clone());
            ended.device_id = Some(id.clone());
            ended.detail = Some(format!("session={} device_revoked", family.redacted()));
            self.apply(Change {
                writes: vec![Write::RevokeSession {
                    tenant: tenant.clone(),
                    id: family,
                    now,
                }],
                events: vec![ended],
            })
            .await?;
        }
        Ok(revocation)
    }

    /// Refuses a session a device opened, or one whose sign-in by code or link is older than
    /// ten minutes: what hands out a new way to sign in needs a fresh proof (decision 36).
    pub(super) fn require_recent_proof(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        let by_device = claims.amr.iter().any(|method| method == DEVICE_METHOD);
        if by_device || self.now().0 > claims.auth_time.saturating_add(BIND_STEP_UP_WINDOW_SECS) {
            return Err(AuthError::StepUpRequired);
        }
        Ok(())
    }

    /// Signs in with a trusted device's credential, when the device is active, unexpired,
    /// trusted, and its fingerprint still resembles the one it was bound with. Every
    /// refusal looks the same to the caller. Device sign-ins are rate limited per IP and
    /// per device, asked alongside the device's read (no round trip of their own); a
    /// device whose right secret comes with a foreign fingerprint too often is revoked
    /// (decision 98).
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn sign_in_with_device(
        &self,
        caller: Caller<'_>,
        credential: &str,
        fingerprint: &Fingerprint,
    ) -> Result<SignedIn, AuthError> {
        fingerprint.validate()?;
        let credential =
            DeviceCredential::parse(credential).map_err(|_| AuthError::DeviceSignInRefused)?;
        let tenant = &caller.tenant.id;
        let now = self.now();
        let subject = Subject {
            tenant,
            ip: caller.ip,
            identifier: None,
            device: Some(credential.device_id.as_str()),
        };
        let pepper = self.keys.current().pepper.clone();
        // Device limits are the client's own scopes only: nothing shared to protect.
        let [own, _] = caller.tenant.policy.rate_limits.tiers(
            Action::Device,
            subject,
            now,
            &pepper,
            self.random.as_ref(),
        );
        let (admitted, device) = futures::join!(
            self.admit_tier(tenant, &own, now),
            self.stores
                .devices
                .get(tenant, &credential.user_id, &credential.device_id),
        );
        admitted?;
        let device = device?;
        let presented = pepper.hash(
            &Device::secret_context(&credential.device_id),
            credential.secret.expose().as_bytes(),
        );
        let policy = &caller.tenant.policy;
        let usable = device.as_ref().filter(|device| {
            device.secret_hash.matches(&presented)
                && device.is_active()
                && now < device.expires_at(policy.device_idle_ttl_secs, policy.device_max_age_secs)
                && device.trust == TrustLevel::Trusted
        });
        let Some(device) = usable else {
            return Err(self.refuse_device_sign_in(caller).await);
        };
        if !device.fingerprint.is_same_device(fingerprint) {
            self.count_fingerprint_mismatch(caller, device, now).await?;
            return Err(self.refuse_device_sign_in(caller).await);
        }
        // The session and its link on the device in one change, conditional on the device
        // still being active: a revocation racing this either lists the session or makes
        // the sign-in fail.
        let session = self.new_session(
            caller,
            &credential.user_id,
            Some(credential.device_id.clone()),
            vec![DEVICE_METHOD.to_owned()],
        );
        let linked = DeviceSignIn {
            tenant: tenant.clone(),
            user: credential.user_id.clone(),
            device: credential.device_id.clone(),
            family: session.family.id.clone(),
            session_expires_at: session.family.expires_at,
            at: now,
        };
        let change = Change {
            writes: vec![
                Write::InsertSession(session.family.clone()),
                Write::RecordDeviceSignIn(linked),
                // A disabled user's devices open no session (refused like any other).
                Write::KeepUserEnabled {
                    tenant: tenant.clone(),
                    user: credential.user_id.clone(),
                },
            ],
            events: vec![session.opened],
        };
        if let Applied::Refused(_) = self.apply(change).await? {
            return Err(self.refuse_device_sign_in(caller).await);
        }
        let tokens = self.tokens_for(caller.tenant, &session.family, session.refresh);
        Ok(SignedIn {
            tokens,
            user_id: credential.user_id,
            is_new_user: false,
        })
    }

    /// Counts a fingerprint mismatch for a device whose secret was right, and revokes the
    /// device (and the sessions it signed in) at the [`FINGERPRINT_MISMATCHES_TO_REVOKE`]th
    /// in a day: its credential is in the hands of a machine that is not the device.
    async fn count_fingerprint_mismatch(
        &self,
        caller: Caller<'_>,
        device: &Device,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        const DAY: i64 = 86_400;
        let window_start = now.0 - now.0.rem_euclid(DAY);
        let counter = CounterLimit {
            key: CounterKey {
                key: format!(
                    "{}#device_mismatch#{}#{window_start}",
                    device.tenant, device.id
                ),
                expires_at: Timestamp(window_start + DAY),
            },
            // Admits the mismatches before the last; the last is the one refused.
            max: u64::from(FINGERPRINT_MISMATCHES_TO_REVOKE - 1),
        };
        if let Admission::Refused(_) = self.stores.counters.admit(&[counter], now).await? {
            tracing::info!(tenant = %device.tenant, outcome = "device_revoked_mismatches", "device revoked after fingerprint mismatches");
            self.revoke_device_and_sessions(
                caller,
                &device.user_id,
                &device.id,
                Some("fingerprint_mismatches"),
            )
            .await?;
        }
        Ok(())
    }

    /// Every device sign-in refusal looks the same to the caller, and is counted.
    async fn refuse_device_sign_in(&self, caller: Caller<'_>) -> AuthError {
        self.count_refusal(&caller.tenant.id, RefusalReason::DeviceSignIn)
            .await;
        AuthError::DeviceSignInRefused
    }
}
