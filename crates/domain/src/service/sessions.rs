//! Sessions: access tokens and rotating refresh tokens with reuse detection (decision 35).

use super::{AuthKit, Caller};
use crate::challenge::ChallengeKind;
use crate::device::DeviceId;
use crate::error::AuthError;
use crate::event::{Event, EventKind, Outcome};
use crate::identifier::Channel;
use crate::store::{Applied, Change, Write};
use crate::tenant::{Tenant, TenantId};
use crate::token::{self, AccessClaims, FamilyId, Presented, RefreshFamily, RefreshToken};
use crate::user::UserId;

/// Tokens handed to a client.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in_secs: u32,
    pub refresh_token: RefreshToken,
}

#[derive(Debug, Clone)]
pub struct SignedIn {
    pub tokens: Tokens,
    pub user_id: UserId,
    /// True on the first verified sign-in of this identifier with this tenant.
    pub is_new_user: bool,
}

/// A session about to be opened: the family to insert, the token it starts with, and the
/// event that records it.
pub(super) struct NewSession {
    pub family: RefreshFamily,
    pub refresh: RefreshToken,
    pub opened: Event,
}

impl AuthKit {
    /// A new refresh-token family for `user`, not yet stored: the caller writes it in one
    /// change with what the sign-in proved.
    pub(super) fn new_session(
        &self,
        caller: Caller<'_>,
        user: &UserId,
        device: Option<DeviceId>,
        amr: Vec<String>,
    ) -> NewSession {
        let tenant = caller.tenant;
        let now = self.now();
        let refresh = RefreshToken::generate(
            FamilyId::generate(self.random.as_ref()),
            self.random.as_ref(),
        );
        let family = RefreshFamily {
            id: refresh.family.clone(),
            tenant: tenant.id.clone(),
            user_id: user.clone(),
            device_id: device,
            amr,
            current_hash: refresh.hash(&self.keys.current().pepper),
            generation: 0,
            created_at: now,
            rotated_at: now,
            expires_at: now.plus_secs(i64::from(tenant.policy.refresh_token_ttl_secs)),
            revoked_at: None,
        };
        let mut opened = self.event(tenant, EventKind::SessionOpened, Outcome::Success);
        opened.user_id = Some(user.clone());
        opened.device_id = family.device_id.clone();
        opened.ip = caller.ip.map(str::to_owned);
        opened.detail = Some(format!(
            "session={} amr={}",
            family.id.redacted(),
            family.amr.join(",")
        ));
        NewSession {
            family,
            refresh,
            opened,
        }
    }

    /// Rotates a refresh token. A retry of the last rotation (within the grace window) gets
    /// the same new token again; a token of the family that was already rotated away means
    /// a copy is in someone else's hands, and the whole family is revoked; anything else is
    /// merely invalid.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn refresh(&self, caller: Caller<'_>, raw: &str) -> Result<Tokens, AuthError> {
        let tenant = caller.tenant;
        let presented = RefreshToken::parse(raw).map_err(|_| AuthError::InvalidRefreshToken)?;
        let pepper = self.keys.current().pepper.clone();
        let now = self.now();
        // Two rounds at most: a request that loses the rotation race to a concurrent one
        // with the same token reads the winner's write, and is then judged a retry.
        for _ in 0..2 {
            let family = self
                .live_family(&tenant.id, &presented.family)
                .await?
                .ok_or(AuthError::InvalidRefreshToken)?;
            match family.judge(&presented, &pepper, now) {
                Presented::Current => {
                    let next = presented.successor(&pepper);
                    let rotated = self
                        .apply(Change {
                            writes: vec![Write::RotateSession {
                                tenant: tenant.id.clone(),
                                id: family.id.clone(),
                                expected: family.current_hash,
                                next: next.hash(&pepper),
                                now,
                            }],
                            events: vec![self.session_event(
                                caller,
                                &family,
                                EventKind::SessionRotated,
                                Outcome::Success,
                            )],
                        })
                        .await?;
                    if rotated == Applied::Done {
                        return Ok(self.tokens_for(tenant, &family, next));
                    }
                }
                Presented::Retry(next) => return Ok(self.tokens_for(tenant, &family, next)),
                Presented::Replayed => {
                    tracing::warn!(outcome = "refresh_reuse", family = %family.id.redacted(), "refresh token reuse; family revoked");
                    let reused = self.session_event(
                        caller,
                        &family,
                        EventKind::SessionReused,
                        Outcome::Refused,
                    );
                    self.revoke_family(&family, reused, now).await?;
                    return Err(AuthError::RefreshTokenReused);
                }
                Presented::Unknown => return Err(AuthError::InvalidRefreshToken),
            }
        }
        Err(AuthError::InvalidRefreshToken)
    }

    /// Signs out: revokes the token's family. Like RFC 7009, an unknown or already revoked
    /// token is not an error, so the answer reveals nothing. Any token the family issued
    /// signs it out; a made-up one does nothing.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn revoke_session(&self, caller: Caller<'_>, raw: &str) -> Result<(), AuthError> {
        let tenant = caller.tenant;
        let Ok(presented) = RefreshToken::parse(raw) else {
            return Ok(());
        };
        let now = self.now();
        let Some(family) = self.live_family(&tenant.id, &presented.family).await? else {
            return Ok(());
        };
        let pepper = self.keys.current().pepper.clone();
        if matches!(family.judge(&presented, &pepper, now), Presented::Unknown) {
            return Ok(());
        }
        let revoked =
            self.session_event(caller, &family, EventKind::SessionRevoked, Outcome::Success);
        self.revoke_family(&family, revoked, now).await
    }

    /// Revokes a session with the event that says why. A family gone in between (expired
    /// and deleted) has nothing left to revoke.
    pub(super) async fn revoke_family(
        &self,
        family: &RefreshFamily,
        event: Event,
        now: crate::clock::Timestamp,
    ) -> Result<(), AuthError> {
        self.apply(Change {
            writes: vec![Write::RevokeSession {
                tenant: family.tenant.clone(),
                id: family.id.clone(),
                now,
            }],
            events: vec![event],
        })
        .await?;
        Ok(())
    }

    /// An event about a session: its user, device and (redacted) id.
    pub(super) fn session_event(
        &self,
        caller: Caller<'_>,
        family: &RefreshFamily,
        kind: EventKind,
        outcome: Outcome,
    ) -> Event {
        let mut event = self.event(caller.tenant, kind, outcome);
        event.user_id = Some(family.user_id.clone());
        event.device_id = family.device_id.clone();
        event.ip = caller.ip.map(str::to_owned);
        event.detail = Some(format!("session={}", family.id.redacted()));
        event
    }

    /// A family that is neither revoked nor expired.
    async fn live_family(
        &self,
        tenant: &TenantId,
        id: &FamilyId,
    ) -> Result<Option<RefreshFamily>, AuthError> {
        let now = self.now();
        Ok(self
            .stores
            .sessions
            .get(tenant, id)
            .await?
            .filter(|family| family.revoked_at.is_none() && now < family.expires_at))
    }

    /// Checks an access token issued to this tenant and that what it stands for still
    /// holds: its session is neither revoked nor expired, nor opened for someone else. The
    /// one place revocation reaches access tokens (one store read), for the routes that act
    /// on a user's behalf and for introspection.
    pub async fn authenticate_live_access_token(
        &self,
        tenant: &TenantId,
        raw: &str,
    ) -> Result<AccessClaims, AuthError> {
        let claims = self.authenticate_access_token(tenant, raw)?;
        let session = self.live_family(tenant, &claims.sid).await?;
        if session.is_none_or(|family| family.user_id != claims.sub) {
            return Err(AuthError::InvalidAccessToken);
        }
        Ok(claims)
    }

    /// RFC 7662 introspection for the tenant's resource servers: the claims of a live
    /// access token of this tenant, or None for anything else (malformed, expired, another
    /// tenant's, or its session revoked). Refresh tokens are never reported active.
    pub async fn introspect(
        &self,
        tenant: &TenantId,
        raw: &str,
    ) -> Result<Option<AccessClaims>, AuthError> {
        match self.authenticate_live_access_token(tenant, raw).await {
            Ok(claims) => Ok(Some(claims)),
            Err(AuthError::InvalidAccessToken) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Checks an access token's signature, issuer, audience (this tenant) and lifetime
    /// only; [`AuthKit::authenticate_live_access_token`] also checks its session.
    pub fn authenticate_access_token(
        &self,
        tenant: &TenantId,
        raw: &str,
    ) -> Result<AccessClaims, AuthError> {
        let keys = self.keys.current();
        token::verify_access_token(
            &keys.signing,
            raw,
            &self.settings.issuer,
            tenant,
            self.now(),
        )
        .map_err(|_| AuthError::InvalidAccessToken)
    }

    pub(super) fn tokens_for(
        &self,
        tenant: &Tenant,
        family: &RefreshFamily,
        refresh: RefreshToken,
    ) -> Tokens {
        let now = self.now();
        let ttl = tenant.policy.access_token_ttl_secs;
        let mut jti = [0u8; 16];
        self.random.fill(&mut jti);
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: family.user_id.clone(),
            aud: tenant.id.clone(),
            iat: now.0,
            nbf: now.0,
            exp: now.plus_secs(i64::from(ttl)).0,
            jti: hex::encode(jti),
            auth_time: family.created_at.0,
            amr: family.amr.clone(),
            client_id: tenant.id.clone(),
            sid: family.id.clone(),
            device_id: family.device_id.clone(),
        };
        Tokens {
            access_token: token::sign_access_token(&self.keys.current().signing, &claims),
            expires_in_secs: ttl,
            refresh_token: refresh,
        }
    }
}

/// Authentication method references for a sign-in: RFC 8176's `otp` and `sms`, and
/// `magic_link`, `email`, `whatsapp` where RFC 8176 has no value (decision 25).
pub(super) fn methods(kind: ChallengeKind, channel: Channel) -> Vec<String> {
    let first = match kind {
        ChallengeKind::Code { .. } => "otp",
        ChallengeKind::MagicLink => "magic_link",
    };
    let second = match channel {
        Channel::Sms => "sms",
        Channel::Whatsapp => "whatsapp",
        Channel::Email => "email",
    };
    vec![first.to_owned(), second.to_owned()]
}
