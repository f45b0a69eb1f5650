//! The one mapping from errors to HTTP: RFC 9457 problem details with a stable `code`.
//! Internal causes are logged with their source chain and never sent to the client.

use authkit_domain::rate_limit::RateLimited;
use authkit_domain::AuthError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A problem response. Build one from an [`AuthError`] or a request-shape failure.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:authkit:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable and machine-readable; clients branch on this.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    /// Which input was wrong (RFC 9457's example extension): a JSON Pointer into the
    /// request body, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// `delivery_failed`: the challenge that was kept, to resend (`POST /v1/auth/resend`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
}

/// One wrong input.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// `#` and a JSON Pointer (RFC 6901) into the request body: `#/policy/code_length`.
    pub pointer: String,
    pub detail: String,
}

/// When to retry after a store or provider was unavailable or throttling: the SDK has
/// already retried with backoff for about a second, so this is not the first try.
const UNAVAILABLE_RETRY_SECS: u64 = 1;

/// The problem code of a response, for the request log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProblemCode(pub &'static str);

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("urn:authkit:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            remaining_attempts: None,
            retry_after: None,
            scope: None,
            errors: None,
            challenge_id: None,
        }
    }

    /// A problem naming the input that was wrong.
    pub fn at_field(mut self, pointer: &str, detail: impl Into<String>) -> Problem {
        self.errors = Some(vec![FieldError {
            pointer: format!("#{pointer}"),
            detail: detail.into(),
        }]);
        self
    }

    fn retry(mut self, secs: u64) -> Problem {
        self.retry_after = Some(secs);
        self
    }
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Problem {
        use StatusCode as S;
        let detail = error.to_string();
        let problem = |status, code| Problem::new(status, code, detail.clone());
        match &error {
            AuthError::InvalidIdentifier(_) => problem(S::BAD_REQUEST, "invalid_identifier"),
            AuthError::MalformedChallengeId => problem(S::BAD_REQUEST, "malformed_challenge_id"),
            AuthError::MalformedAnswer => problem(S::BAD_REQUEST, "malformed_answer"),
            AuthError::RedirectNotAllowed => problem(S::BAD_REQUEST, "redirect_not_allowed"),
            AuthError::RedirectRequired => problem(S::BAD_REQUEST, "redirect_required"),
            AuthError::InvalidCodeChallenge(_) => problem(S::BAD_REQUEST, "invalid_code_challenge"),
            AuthError::CodeChallengeRequired => problem(S::BAD_REQUEST, "code_challenge_required"),
            AuthError::InvalidFingerprint(_) => problem(S::BAD_REQUEST, "invalid_fingerprint"),
            AuthError::ChallengeNotFound => problem(S::NOT_FOUND, "challenge_not_found"),
            AuthError::ChallengeExpired => problem(S::BAD_REQUEST, "challenge_expired"),
            AuthError::ChallengeExhausted => problem(S::BAD_REQUEST, "challenge_exhausted"),
            AuthError::ChallengeUsed => problem(S::CONFLICT, "challenge_used"),
            AuthError::WrongAnswer { remaining_attempts } => Problem {
                remaining_attempts: Some(*remaining_attempts),
                ..problem(S::BAD_REQUEST, "wrong_code")
            },
            AuthError::ResendTooSoon { retry_after_secs } => {
                problem(S::TOO_MANY_REQUESTS, "resend_too_soon").retry(*retry_after_secs)
            }
            AuthError::ResendLimitReached => problem(S::BAD_REQUEST, "resend_limit_reached"),
            AuthError::RateLimited(RateLimited {
                scope,
                retry_after_secs,
            }) => Problem {
                scope: Some(scope.as_str()),
                ..problem(S::TOO_MANY_REQUESTS, "rate_limited").retry(*retry_after_secs)
            },
            AuthError::IdentifierLocked { retry_after_secs } => {
                problem(S::TOO_MANY_REQUESTS, "identifier_locked").retry(*retry_after_secs)
            }
            // Retryable, and says how: the challenge was kept and can be resent.
            AuthError::DeliveryFailed {
                challenge_id,
                retry_after_secs,
                ..
            } => {
                log_cause(&error);
                Problem {
                    challenge_id: Some(challenge_id.to_string()),
                    ..Problem::new(
                        S::SERVICE_UNAVAILABLE,
                        "delivery_failed",
                        "the message could not be sent; the sign-in was kept: resend it with POST /v1/auth/resend and this challenge_id after retry_after seconds",
                    )
                    .retry(*retry_after_secs)
                }
            }
            AuthError::ChannelUnavailable(_) => problem(S::BAD_REQUEST, "channel_unavailable"),
            AuthError::InvalidApiKey => problem(S::UNAUTHORIZED, "invalid_api_key"),
            AuthError::SecretKeyRequired => problem(S::FORBIDDEN, "secret_key_required"),
            AuthError::InvalidAccessToken => problem(S::UNAUTHORIZED, "invalid_access_token"),
            // RFC 9470's error for "authenticated, but not recently or strongly enough".
            AuthError::StepUpRequired => {
                problem(S::UNAUTHORIZED, "insufficient_user_authentication")
            }
            AuthError::InvalidRefreshToken => problem(S::UNAUTHORIZED, "invalid_refresh_token"),
            AuthError::RefreshTokenReused => problem(S::UNAUTHORIZED, "refresh_token_reused"),
            AuthError::InvalidSignInResult => problem(S::BAD_REQUEST, "invalid_sign_in_result"),
            AuthError::SignInBound => problem(S::BAD_REQUEST, "sign_in_bound"),
            AuthError::DeviceNotFound => problem(S::NOT_FOUND, "device_not_found"),
            AuthError::DeviceSignInRefused => problem(S::UNAUTHORIZED, "device_sign_in_refused"),
            AuthError::UserNotFound => problem(S::NOT_FOUND, "user_not_found"),
            AuthError::IdentifierTaken => problem(S::CONFLICT, "identifier_taken"),
            AuthError::IdentifierNotHeld => problem(S::NOT_FOUND, "identifier_not_found"),
            AuthError::LastIdentifier => problem(S::CONFLICT, "last_identifier"),
            AuthError::UserDisabled => problem(S::FORBIDDEN, "user_disabled"),
            AuthError::InvalidParameter(_) => problem(S::BAD_REQUEST, "invalid_parameter"),
            AuthError::TenantNotFound => problem(S::NOT_FOUND, "tenant_not_found"),
            AuthError::TenantExists => problem(S::CONFLICT, "tenant_exists"),
            AuthError::TenantSuspended => problem(S::FORBIDDEN, "tenant_suspended"),
            AuthError::OriginNotAllowed => problem(S::FORBIDDEN, "origin_not_allowed"),
            AuthError::SecretKeyInBrowser => problem(S::FORBIDDEN, "secret_key_in_browser"),
            AuthError::IpNotAllowed => problem(S::FORBIDDEN, "ip_not_allowed"),
            AuthError::ChannelDisabled(_) => problem(S::BAD_REQUEST, "channel_disabled"),
            AuthError::InvalidSetting(invalid) => problem(S::BAD_REQUEST, "invalid_setting")
                .at_field(&invalid.pointer, invalid.detail.clone()),
            AuthError::PreconditionFailed => problem(S::PRECONDITION_FAILED, "precondition_failed"),
            AuthError::ConcurrentUpdate => problem(S::CONFLICT, "concurrent_update"),
            AuthError::InvalidIdempotencyKey => problem(S::BAD_REQUEST, "invalid_idempotency_key"),
            AuthError::IdempotencyKeyReused => {
                problem(S::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            AuthError::ApiKeyNotFound => problem(S::NOT_FOUND, "api_key_not_found"),
            AuthError::ApiKeyNotLive => problem(S::CONFLICT, "api_key_revoked"),
            AuthError::InvalidRequest(_) => problem(S::BAD_REQUEST, "invalid_request"),
            AuthError::RoleForbids => problem(S::FORBIDDEN, "role_forbidden"),
            AuthError::MemberNotFound => problem(S::NOT_FOUND, "member_not_found"),
            AuthError::InvitationNotFound => problem(S::NOT_FOUND, "invitation_not_found"),
            AuthError::LastOwner => problem(S::CONFLICT, "last_owner"),
            AuthError::StillAMember => problem(S::CONFLICT, "still_a_member"),
            AuthError::OperatorReviewRequired(_) => {
                problem(S::FORBIDDEN, "operator_review_required")
            }
            AuthError::SignupDisabled => problem(S::FORBIDDEN, "signup_disabled"),
            AuthError::SignupNotInvited => problem(S::FORBIDDEN, "signup_not_invited"),
            AuthError::MemberRequired => problem(S::UNAUTHORIZED, "member_token_required"),
            // The SDK has already retried with backoff; the client may try again shortly.
            // Every 503 says when, so a retrying client neither hammers nor gives up.
            AuthError::Unavailable(_) => {
                log_cause(&error);
                Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a backing service is unavailable; retry shortly",
                )
                .retry(UNAVAILABLE_RETRY_SECS)
            }
        }
    }
}

/// Logs an internal failure with its whole source chain (never sent to the client).
fn log_cause(error: &AuthError) {
    tracing::error!(error = %cause_chain(error), "request failed on a backing service");
}

/// The error and its causes as one line for the log, without the contacts a provider's
/// text may name.
fn cause_chain(error: &AuthError) -> String {
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    authkit_domain::redaction::without_contacts(&chain)
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let code = self.code;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body,
        )
            .into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response.extensions_mut().insert(ProblemCode(code));
        response
    }
}

pub(crate) async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub(crate) async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the route does not accept this method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_error_text_reaches_the_log_without_the_recipient() {
        // What SES and SNS answer for a refused recipient: their text names it.
        let provider: authkit_domain::store::BoxError = "MessageRejected: Email address is not verified. The following identities failed the check in region EU-WEST-1: Victim.Person+tag@example.co.uk; InvalidParameter: PhoneNumber +44 7911 123456 (or +447911123456) is not valid".into();
        let error = AuthError::DeliveryFailed {
            challenge_id: challenge_id(),
            retry_after_secs: 0,
            source: authkit_domain::delivery::DeliveryError::Rejected(provider),
        };
        let logged = cause_chain(&error);
        for contact in [
            "Victim.Person",
            "example.co.uk",
            "7911 123456",
            "447911123456",
        ] {
            assert!(!logged.contains(contact), "{contact} in {logged}");
        }
        assert!(
            logged.contains("MessageRejected"),
            "the cause is kept: {logged}"
        );
        assert!(logged.contains("EU-WEST-1"), "{logged}");
    }

    fn challenge_id() -> authkit_domain::challenge::ChallengeId {
        authkit_domain::challenge::ChallengeId::generate(&authkit_domain::OsRandomness)
    }

    #[test]
    fn every_problem_code_is_snake_case_and_internal_text_stays_out() {
        let store = authkit_domain::store::StoreError::Unavailable(
            "dynamodb.us-east-1 timed out with secret detail".into(),
        );
        let problem = Problem::from(AuthError::Unavailable(store));
        assert_eq!(problem.status, 503);
        assert_eq!(problem.retry_after, Some(1));
        assert!(!problem.detail.contains("secret detail"));
        assert!(problem
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_'));
    }

    #[test]
    fn a_throttled_or_unreachable_store_answers_503_with_retry_after() {
        use authkit_domain::store::StoreError;
        for cause in [
            StoreError::Throttled("ProvisionedThroughputExceededException".into()),
            StoreError::Unavailable("connection reset".into()),
        ] {
            let response = Problem::from(AuthError::Unavailable(cause)).into_response();
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/problem+json"
            );
        }
    }

    #[test]
    fn a_failed_delivery_is_retryable_and_names_the_challenge_to_resend() {
        let id = challenge_id();
        let error = AuthError::DeliveryFailed {
            challenge_id: id.clone(),
            retry_after_secs: 0,
            source: authkit_domain::delivery::DeliveryError::Unavailable("SES is down".into()),
        };
        let problem = Problem::from(error);
        assert_eq!((problem.status, problem.code), (503, "delivery_failed"));
        assert_eq!(problem.challenge_id.as_deref(), Some(id.as_str()));
        let response = problem.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let tripped = RateLimited {
            scope: authkit_domain::rate_limit::Scope::Ip,
            retry_after_secs: 42,
        };
        let response = Problem::from(AuthError::RateLimited(tripped)).into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
