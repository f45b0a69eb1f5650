//! The wire format: request and response bodies, documented in the OpenAPI document.
//! Times are Unix seconds.

use authkit_domain::challenge::ResponseMode;
use authkit_domain::device::{Device, TrustLevel};
use authkit_domain::identifier::Channel;
use authkit_domain::service::{SignedIn, StartedChallenge, Tokens};
use authkit_domain::token::AccessClaims;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelName {
    Sms,
    Email,
    Whatsapp,
}

impl From<Channel> for ChannelName {
    fn from(channel: Channel) -> ChannelName {
        match channel {
            Channel::Sms => ChannelName::Sms,
            Channel::Email => ChannelName::Email,
            Channel::Whatsapp => ChannelName::Whatsapp,
        }
    }
}

impl From<ChannelName> for Channel {
    fn from(name: ChannelName) -> Channel {
        match name {
            ChannelName::Sms => Channel::Sms,
            ChannelName::Email => Channel::Email,
            ChannelName::Whatsapp => Channel::Whatsapp,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    #[default]
    Code,
    MagicLink,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// An email address, or a phone number (E.164, or national in the tenant's default region).
    pub identifier: String,
    /// Defaults to the identifier's own: email for addresses, sms for phone numbers.
    pub channel: Option<ChannelName>,
    #[serde(default)]
    pub kind: KindName,
    /// Magic links only: one of the tenant's allowed redirect URIs.
    pub redirect_uri: Option<String>,
    /// Magic links only: binds the sign-in to the app that starts it (PKCE, RFC 7636):
    /// `BASE64URL(SHA-256(code_verifier))`, 43 characters. The result is then exchanged
    /// only with `code_verifier`.
    pub code_challenge: Option<String>,
    /// `S256`, the only method (and the default); `plain` is refused.
    #[allow(dead_code)] // its job is done by deserialising: any other method is refused
    pub code_challenge_method: Option<CodeChallengeMethod>,
    /// Magic links only: where the redirect carries the result. `fragment` (default):
    /// `#authkit_result=…`, seen only by the app's page. `query`: `?authkit_result=…`, for
    /// callbacks that are server routes; it reaches logs and history, so it needs a
    /// `code_challenge`.
    #[serde(default)]
    pub response_mode: ResponseModeName,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum CodeChallengeMethod {
    S256,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseModeName {
    #[default]
    Fragment,
    Query,
}

impl From<ResponseModeName> for ResponseMode {
    fn from(name: ResponseModeName) -> ResponseMode {
        match name {
            ResponseModeName::Fragment => ResponseMode::Fragment,
            ResponseModeName::Query => ResponseMode::Query,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeResponse {
    pub challenge_id: String,
    /// `code` or `magic_link`.
    pub kind: &'static str,
    pub channel: &'static str,
    /// Masked: `j***@example.com`, `+44*******456`.
    pub destination: String,
    pub expires_at: i64,
    pub resend_after: i64,
}

impl From<StartedChallenge> for ChallengeResponse {
    fn from(started: StartedChallenge) -> Self {
        ChallengeResponse {
            challenge_id: started.id.to_string(),
            kind: started.kind.as_str(),
            channel: started.channel.as_str(),
            destination: started.masked_destination,
            expires_at: started.expires_at.0,
            resend_after: started.resend_after.0,
        }
    }
}

/// One of: `challenge_id` + `code`; `challenge_id` + `token` (a magic link opened in the
/// app itself; not for a sign-in started with a `code_challenge`); `result` (the one-time
/// result a confirmed magic link redirected with), with `code_verifier` exactly when the
/// sign-in was started with a `code_challenge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub challenge_id: Option<String>,
    pub code: Option<String>,
    pub token: Option<String>,
    pub result: Option<String>,
    /// The PKCE verifier behind the start's `code_challenge`: 43-128 characters of
    /// `A-Z a-z 0-9 - . _ ~`.
    pub code_verifier: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub challenge_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignInResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub refresh_token: String,
    pub user_id: String,
    pub is_new_user: bool,
}

impl From<SignedIn> for SignInResponse {
    fn from(signed_in: SignedIn) -> Self {
        let tokens = TokenResponse::from(signed_in.tokens);
        SignInResponse {
            access_token: tokens.access_token,
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token,
            user_id: signed_in.user_id.to_string(),
            is_new_user: signed_in.is_new_user,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub refresh_token: String,
}

impl From<Tokens> for TokenResponse {
    fn from(tokens: Tokens) -> Self {
        TokenResponse {
            access_token: tokens.access_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in_secs,
            refresh_token: tokens.refresh_token.reveal(),
        }
    }
}

/// RFC 7662 §2.1: the token to introspect, form-encoded (or as JSON). Other parameters
/// are ignored, as OAuth endpoints must (RFC 6749 §3.2).
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// An access token this tenant was issued.
    pub token: String,
    /// `access_token` or `refresh_token`. Accepted for RFC 7662 clients and not consulted:
    /// only access tokens can be active.
    #[allow(dead_code)]
    pub token_type_hint: Option<String>,
}

/// RFC 7662 §2.2. `active: false` alone for a token that is malformed, expired, another
/// tenant's, or whose session was revoked; the claims of a live access token otherwise.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The session the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// How the user signed in: `otp`/`magic_link` and the channel, or `device`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

impl From<Option<AccessClaims>> for IntrospectionResponse {
    fn from(claims: Option<AccessClaims>) -> Self {
        let Some(claims) = claims else {
            return IntrospectionResponse::default();
        };
        IntrospectionResponse {
            active: true,
            token_type: Some("Bearer"),
            client_id: Some(claims.client_id.to_string()),
            sub: Some(claims.sub.to_string()),
            iss: Some(claims.iss),
            aud: Some(claims.aud.to_string()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            jti: Some(claims.jti),
            sid: Some(claims.sid.to_string()),
            amr: Some(claims.amr),
            auth_time: Some(claims.auth_time),
            device_id: claims.device_id.map(|id| id.to_string()),
        }
    }
}

/// What a client reports about itself; every field optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FingerprintBody {
    pub user_agent: Option<String>,
    pub platform: Option<String>,
    /// `WIDTHxHEIGHT`.
    pub screen: Option<String>,
    /// IANA time zone name.
    pub timezone: Option<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    pub color_depth: Option<u16>,
    pub hardware_concurrency: Option<u16>,
}

impl From<FingerprintBody> for authkit_domain::device::Fingerprint {
    fn from(body: FingerprintBody) -> Self {
        authkit_domain::device::Fingerprint {
            user_agent: body.user_agent,
            platform: body.platform,
            screen: body.screen,
            timezone: body.timezone,
            languages: body.languages,
            color_depth: body.color_depth,
            hardware_concurrency: body.hardware_concurrency,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindDeviceRequest {
    pub fingerprint: FingerprintBody,
    pub name: Option<String>,
    /// A trusted device may later sign in with its credential instead of a code.
    #[serde(default)]
    pub trusted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoundDeviceResponse {
    pub device_id: String,
    /// Shown once. Keep it in the device's secure storage.
    pub credential: String,
    pub trust: &'static str,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSummary {
    pub device_id: String,
    pub name: Option<String>,
    pub trust: &'static str,
    pub created_at: i64,
    pub last_seen: i64,
    pub revoked_at: Option<i64>,
}

pub fn trust_name(trust: TrustLevel) -> &'static str {
    match trust {
        TrustLevel::Trusted => "trusted",
        TrustLevel::Recognised => "recognised",
    }
}

impl From<Device> for DeviceSummary {
    fn from(device: Device) -> Self {
        DeviceSummary {
            device_id: device.id.to_string(),
            name: device.name,
            trust: trust_name(device.trust),
            created_at: device.created_at.0,
            last_seen: device.last_seen.0,
            revoked_at: device.revoked_at.map(|t| t.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceSummary>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceSignInRequest {
    /// The credential returned when the device was bound.
    pub credential: String,
    pub fingerprint: FingerprintBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// A new identifier for the signed-in user: a code is sent to it. It replaces the one of
/// its kind they hold, or joins the other kind as their second.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeIdentifierRequest {
    /// An email address or an E.164 phone number.
    pub identifier: String,
}

/// Which of the signed-in user's two identifiers to remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveIdentifierRequest {
    pub kind: IdentifierKindName,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKindName {
    Email,
    Phone,
}

impl From<IdentifierKindName> for authkit_domain::identifier::IdentifierKind {
    fn from(kind: IdentifierKindName) -> Self {
        match kind {
            IdentifierKindName::Email => authkit_domain::identifier::IdentifierKind::Email,
            IdentifierKindName::Phone => authkit_domain::identifier::IdentifierKind::Phone,
        }
    }
}

/// The code sent to the new identifier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIdentifierChangeRequest {
    pub challenge_id: String,
    pub code: String,
}
