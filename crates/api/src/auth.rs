//! Who is calling: the tenant from the API key, the client's address, and — on device
//! routes — the signed-in user from the access token.

use std::net::{IpAddr, SocketAddr};

use authkit_domain::service::{Actor, Caller, RequestContext};
use authkit_domain::tenant::{ApiKeyId, KeyKind, Tenant};
use authkit_domain::token::AccessClaims;
use authkit_domain::AuthError;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::cors::AllowedOrigin;
use crate::edge::ClientIp;
use crate::observability::RequestLog;
use crate::problem::Problem;
use crate::State;

/// A request authenticated by an API key, and allowed to use it from where it comes.
pub struct TenantCaller {
    pub tenant: Tenant,
    pub ip: Option<String>,
    pub kind: KeyKind,
    /// None for keys created before keys had ids.
    pub key_id: Option<ApiKeyId>,
}

impl TenantCaller {
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            tenant: &self.tenant,
            ip: self.ip.as_deref(),
        }
    }

    /// Who a change made with this key is audited as.
    pub fn actor(&self) -> Actor {
        Actor::SecretKey(self.key_id.clone())
    }
}

impl<S> FromRequestParts<S> for TenantCaller
where
    State: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(parts, &State::from_ref(state)).await
    }
}

/// A request authenticated by the tenant's secret key: a server, never a browser or an
/// app. A publishable key is refused with 403 `secret_key_required`.
pub struct SecretKeyCaller(pub TenantCaller);

impl<S> FromRequestParts<S> for SecretKeyCaller
where
    State: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, &State::from_ref(state)).await?;
        match caller.kind {
            KeyKind::Secret => Ok(SecretKeyCaller(caller)),
            KeyKind::Publishable => Err(AuthError::SecretKeyRequired.into()),
        }
    }
}

/// The tenant and kind of the request's API key, judged by where the request comes from
/// (its `Origin`, its address); an allowed origin may read the answer.
async fn authenticate(parts: &Parts, authkit: &State) -> Result<TenantCaller, Problem> {
    let key = api_key(&parts.headers).ok_or(AuthError::InvalidApiKey)?;
    // An `Origin` that is not text is still a browser's: never "no origin".
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let ip = client_ip_addr(parts);
    let context = RequestContext { origin, ip };
    let key_caller = authkit.authenticate_request(key, &context).await?;
    // Beside the request, not in its path: a sign-in's round trips stay within budget
    // (decision 116).
    if let Some(note) = authkit.key_use_note(&key_caller) {
        tokio::spawn(note);
    }
    if let Some(log) = parts.extensions.get::<RequestLog>() {
        log.set_tenant(key_caller.tenant.id.as_str());
    }
    if let (Some(origin), Some(allowed)) = (
        &key_caller.allowed_origin,
        parts.extensions.get::<AllowedOrigin>(),
    ) {
        allowed.allow(origin.as_str());
    }
    Ok(TenantCaller {
        tenant: key_caller.tenant,
        ip: ip.map(|ip| ip.to_string()),
        kind: key_caller.kind,
        key_id: key_caller.key_id,
    })
}

/// `x-api-key`, or an `Authorization: Bearer` value that is an API key (device routes use
/// the Authorization header for the access token, so they need `x-api-key`).
fn api_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    bearer(headers).filter(|value| value.starts_with("ak_"))
}

/// The value of an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The client's address as the edge determined it ([`crate::edge`]); a router used
/// without the edge layer (unit tests) falls back to the socket peer. Never a header a
/// client could set.
pub(crate) fn client_ip(parts: &Parts) -> Option<String> {
    client_ip_addr(parts).map(|ip| ip.to_string())
}

pub(crate) fn client_ip_addr(parts: &Parts) -> Option<IpAddr> {
    match parts.extensions.get::<ClientIp>() {
        Some(ClientIp(ip)) => *ip,
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip()),
    }
}

/// A signed-in user of the calling tenant: a valid access token whose audience is the
/// tenant that the API key names, and whose session is still live (so signing out, or
/// revoking the device that opened the session, takes effect here at once).
pub(crate) struct SignedInUser {
    pub caller: TenantCaller,
    pub claims: AccessClaims,
}

impl FromRequestParts<State> for SignedInUser {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        authkit: &State,
    ) -> Result<Self, Self::Rejection> {
        let caller = TenantCaller::from_request_parts(parts, authkit).await?;
        let token = bearer(&parts.headers)
            .filter(|value| !value.starts_with("ak_"))
            .ok_or(AuthError::InvalidAccessToken)?;
        let claims = authkit
            .authenticate_live_access_token(&caller.tenant.id, token)
            .await?;
        Ok(SignedInUser { caller, claims })
    }
}
