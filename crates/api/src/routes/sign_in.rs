use authkit_domain::service::{RequestedKind, StartRequest as DomainStart};
use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::auth::TenantCaller;
use crate::body::JsonBody;
use crate::dto::{
    ChallengeResponse, KindName, ResendRequest, SignInResponse, StartRequest, VerifyRequest,
};
use crate::problem::Problem;

/// Starts a sign-in: sends a code or a magic link. Answers the same whether or not the
/// identifier has signed in before.
#[utoipa::path(post, path = "/v1/auth/start", request_body = StartRequest, security(("api_key" = [])),
    responses((status = 200, body = ChallengeResponse), (status = "4XX", body = Problem, content_type = "application/problem+json"), (status = 503, description = "`delivery_failed` (the challenge was kept: resend it with its `challenge_id`) or `unavailable`; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn start(
    State(authkit): State<crate::State>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<StartRequest>,
) -> Result<Json<ChallengeResponse>, Problem> {
    let request = DomainStart {
        identifier: &body.identifier,
        channel: body.channel.map(Into::into),
        kind: match body.kind {
            KindName::Code => RequestedKind::Code,
            KindName::MagicLink => RequestedKind::MagicLink,
        },
        redirect_uri: body.redirect_uri.as_deref(),
        code_challenge: body.code_challenge.as_deref(),
        response_mode: body.response_mode.into(),
    };
    Ok(Json(
        authkit
            .start_sign_in(caller.caller(), request)
            .await?
            .into(),
    ))
}

/// Verifies a code, a magic-link token, or a confirmed magic link's result, and signs
/// the user in.
#[utoipa::path(post, path = "/v1/auth/verify", request_body = VerifyRequest, security(("api_key" = [])),
    responses((status = 200, body = SignInResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn verify(
    State(authkit): State<crate::State>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<VerifyRequest>,
) -> Result<Json<SignInResponse>, Problem> {
    let signed_in = match (
        body.challenge_id.as_deref(),
        body.code.as_deref(),
        body.token.as_deref(),
        body.result.as_deref(),
        body.code_verifier.as_deref(),
    ) {
        (Some(id), Some(answer), None, None, None) | (Some(id), None, Some(answer), None, None) => {
            authkit
                .sign_in_with_answer(caller.caller(), id, answer)
                .await?
        }
        (None, None, None, Some(result), verifier) => {
            authkit
                .sign_in_with_result(caller.caller(), result, verifier)
                .await?
        }
        _ => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send challenge_id with code, challenge_id with token, or result (with code_verifier when the sign-in was bound)",
            ))
        }
    };
    Ok(Json(signed_in.into()))
}

/// Sends a new secret: a new challenge replaces the old one, whose secret stops working.
#[utoipa::path(post, path = "/v1/auth/resend", request_body = ResendRequest, security(("api_key" = [])),
    responses((status = 200, body = ChallengeResponse), (status = "4XX", body = Problem, content_type = "application/problem+json"), (status = 503, description = "`delivery_failed` (the new challenge was kept: resend it with its `challenge_id`) or `unavailable`; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn resend(
    State(authkit): State<crate::State>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<ResendRequest>,
) -> Result<Json<ChallengeResponse>, Problem> {
    let started = authkit
        .resend(caller.caller(), &body.challenge_id)
        .await
        .map_err(|error| match error {
            AuthError::MalformedChallengeId => AuthError::ChallengeNotFound,
            other => other,
        })?;
    Ok(Json(started.into()))
}
