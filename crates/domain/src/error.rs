//! The errors the domain reports. Each variant means something to the caller; the API
//! crate maps each to one HTTP status and one stable problem `code`.

use crate::challenge::ChallengeId;
use crate::delivery::DeliveryError;
use crate::device::InvalidFingerprint;
use crate::identifier::{Channel, IdentifierError};
use crate::rate_limit::RateLimited;
use crate::store::StoreError;
use crate::tenant::InvalidSetting;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the identifier is not usable: {0}")]
    InvalidIdentifier(#[from] IdentifierError),
    #[error("the challenge id is malformed")]
    MalformedChallengeId,
    #[error("the answer is not in the form this challenge expects")]
    MalformedAnswer,
    #[error("the redirect URI is not on the tenant's allowed list")]
    RedirectNotAllowed,
    #[error("a magic link needs a redirect URI and the tenant has no single default")]
    RedirectRequired,
    #[error("{0}")]
    InvalidCodeChallenge(&'static str),
    #[error("this tenant requires magic links to be bound with a code_challenge (PKCE)")]
    CodeChallengeRequired,
    #[error("the device fingerprint is not acceptable: {0}")]
    InvalidFingerprint(#[from] InvalidFingerprint),

    #[error("no such challenge")]
    ChallengeNotFound,
    #[error("the challenge has expired")]
    ChallengeExpired,
    #[error("the challenge has had too many wrong answers")]
    ChallengeExhausted,
    #[error("the challenge was already used or replaced")]
    ChallengeUsed,
    #[error("the answer is wrong")]
    WrongAnswer { remaining_attempts: u32 },
    #[error("a resend is not allowed yet")]
    ResendTooSoon { retry_after_secs: u64 },
    #[error("no more resends are allowed for this sign-in")]
    ResendLimitReached,
    #[error("too many requests")]
    RateLimited(RateLimited),
    #[error("too many wrong answers for this identifier; try again later")]
    IdentifierLocked { retry_after_secs: u64 },
    /// The challenge was kept and can be resent (it may even still arrive): after
    /// `retry_after_secs`, at once when the failure could be recorded.
    #[error("the message could not be delivered")]
    DeliveryFailed {
        challenge_id: ChallengeId,
        retry_after_secs: u64,
        #[source]
        source: DeliveryError,
    },
    #[error("this deployment does not deliver by {0}")]
    ChannelUnavailable(Channel),

    #[error("the API key is missing, malformed, unknown or revoked")]
    InvalidApiKey,
    #[error(
        "this operation needs the tenant's secret API key: a publishable key ships inside \
         every copy of the app, so anyone can use it"
    )]
    SecretKeyRequired,
    #[error("the access token is missing or invalid")]
    InvalidAccessToken,
    #[error("this needs a sign-in with a code or a magic link in the last 10 minutes")]
    StepUpRequired,
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; its session is revoked")]
    RefreshTokenReused,
    #[error("the sign-in result is invalid, expired or already used")]
    InvalidSignInResult,
    #[error("this sign-in is bound to the app that started it: confirm the link and exchange its result with the code_verifier")]
    SignInBound,
    #[error("no such device")]
    DeviceNotFound,
    #[error("the device cannot sign in: unknown, revoked, untrusted or changed")]
    DeviceSignInRefused,
    #[error("no such user")]
    UserNotFound,
    #[error("another user of this tenant signs in with this identifier")]
    IdentifierTaken,
    #[error("the user holds no identifier of this kind")]
    IdentifierNotHeld,
    #[error("the user's only identifier cannot be removed")]
    LastIdentifier,
    #[error("this account is disabled")]
    UserDisabled,
    #[error("the parameter `{0}` is not acceptable")]
    InvalidParameter(&'static str),
    #[error("no such tenant")]
    TenantNotFound,
    #[error("the tenant id is taken (tenant ids of deleted tenants are never given out again)")]
    TenantExists,

    #[error("this tenant is suspended: its sign-ins, refreshes and API calls are refused until the operator reactivates it")]
    TenantSuspended,
    #[error("this origin is not on the tenant's list of allowed web origins")]
    OriginNotAllowed,
    #[error(
        "a secret API key was sent from a browser (the request has an Origin header): secret \
         keys are for servers; browsers and apps use the publishable key. If this key was \
         shipped to browsers, rotate it"
    )]
    SecretKeyInBrowser,
    #[error("secret-key calls from this address are not on the tenant's IP allowlist")]
    IpNotAllowed,
    #[error("this tenant does not sign in by {0}")]
    ChannelDisabled(Channel),
    #[error("{0}")]
    InvalidSetting(InvalidSetting),
    #[error("the tenant changed since the version named in If-Match; read it again and reapply the change")]
    PreconditionFailed,
    #[error("the tenant is being changed concurrently; retry")]
    ConcurrentUpdate,
    #[error("the Idempotency-Key header is required on creating requests: 1-255 visible ASCII characters, unique per request (a UUID)")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was used for a different request in the last 24 hours")]
    IdempotencyKeyReused,
    #[error("no such API key")]
    ApiKeyNotFound,
    #[error("the API key is revoked or expired")]
    ApiKeyNotLive,
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("the member's role on this tenant does not cover this operation")]
    RoleForbids,
    #[error("no such member")]
    MemberNotFound,
    #[error("no such pending invitation")]
    InvitationNotFound,
    #[error("the tenant must keep an owner: make another member owner first")]
    LastOwner,
    #[error(
        "the console user is still a member of a tenant: they leave it (DELETE /v1/memberships/{{tenant}}) or its owners remove them first"
    )]
    StillAMember,
    #[error(
        "{0} of a self-service tenant is set by the deployment's operator: ask them to review the tenant"
    )]
    OperatorReviewRequired(&'static str),
    #[error("self-service sign-up is off in this deployment: ask its operator for a tenant")]
    SignupDisabled,
    #[error(
        "sign-up is by invitation in this deployment, and this address holds no pending invitation"
    )]
    SignupNotInvited,
    #[error("this needs a tenant member's console access token")]
    MemberRequired,

    #[error("a backing service is unavailable")]
    Unavailable(#[from] StoreError),
}
