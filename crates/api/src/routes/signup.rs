//! Self-service sign-up (decisions 135-139): public routes, no key. The first starts a
//! console email-code sign-in for the address; the second verifies it and creates the
//! tenant with the verified user as owner, answering its keys once and the owner's
//! console tokens.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::dto::{ChallengeResponse, SignInResponse};
use crate::problem::Problem;
use crate::tenancy_dto::TenantObject;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The owner's address: a console sign-in code is sent to it.
    pub email: String,
    /// The tenant's display name, 1-100 characters; its id is made from it.
    pub project_name: String,
    /// Reserved for the abuse-defence issue's captcha: accepted and ignored today.
    #[allow(
        dead_code,
        reason = "read once the abuse-defence issue checks captchas"
    )]
    pub captcha_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupVerifyRequest {
    pub challenge_id: String,
    pub code: String,
    /// The project name again (the challenge does not carry it).
    pub project_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    /// The new tenant, with its first publishable and secret keys (shown only here).
    pub tenant: TenantObject,
    /// The owner's console sign-in: its access token, with `AuthKit-Tenant`, calls the
    /// tenant API.
    pub console: SignInResponse,
}

/// Starts a sign-up: sends a console sign-in code to the address. Answers the same
/// whether or not the address has an account or an invitation; `signup_disabled` when
/// the deployment's sign-up is off.
#[utoipa::path(post, path = "/v1/signup", request_body = SignupRequest,
    responses((status = 200, body = ChallengeResponse), (status = 403, description = "`signup_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`delivery_failed` or `unavailable`; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn start(
    State(authkit): State<crate::State>,
    parts: Parts,
    JsonBody(body): JsonBody<SignupRequest>,
) -> Result<Json<ChallengeResponse>, Problem> {
    let ip = crate::auth::client_ip(&parts);
    let started = authkit
        .start_signup(ip.as_deref(), &body.email, &body.project_name)
        .await?;
    Ok(Json(started.into()))
}

/// Verifies the sign-up's code and creates the tenant, the verified user its owner. A
/// wrong code answers as sign-in does and creates nothing; `signup_not_invited` when
/// sign-up is by invitation and the proved address holds none.
#[utoipa::path(post, path = "/v1/signup/verify", request_body = SignupVerifyRequest,
    responses((status = 201, body = SignupResponse), (status = 403, description = "`signup_disabled` or `signup_not_invited`", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn verify(
    State(authkit): State<crate::State>,
    parts: Parts,
    JsonBody(body): JsonBody<SignupVerifyRequest>,
) -> Result<(StatusCode, Json<SignupResponse>), Problem> {
    let ip = crate::auth::client_ip(&parts);
    let signed_up = authkit
        .verify_signup(
            ip.as_deref(),
            &body.challenge_id,
            &body.code,
            &body.project_name,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            tenant: signed_up.created.into(),
            console: signed_up.signed_in.into(),
        }),
    ))
}
