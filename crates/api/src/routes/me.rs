//! The signed-in user's own account (API key + access token): the identifiers they sign in
//! with — an email address, a phone number, or one of each — added or changed by proving
//! the new one with a code, and removed while another remains.

use axum::extract::State;
use axum::Json;

use crate::admin_dto::UserObject;
use crate::auth::SignedInUser;
use crate::body::JsonBody;
use crate::dto::{
    ChallengeResponse, ChangeIdentifierRequest, RemoveIdentifierRequest,
    VerifyIdentifierChangeRequest,
};
use crate::problem::Problem;

/// Sends a code to a new identifier for the signed-in user: once proved, it replaces their
/// identifier of its kind, or joins the other kind as their second. Needs a sign-in by
/// code or link in the last ten minutes (`401 insufficient_user_authentication` otherwise).
#[utoipa::path(post, path = "/v1/me/identifier", request_body = ChangeIdentifierRequest, security(("api_key" = [], "access_token" = [])),
    responses((status = 200, body = ChallengeResponse), (status = "4XX", body = Problem, content_type = "application/problem+json"), (status = 503, description = "`delivery_failed` or `unavailable`; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn change_identifier(
    State(authkit): State<crate::State>,
    user: SignedInUser,
    JsonBody(body): JsonBody<ChangeIdentifierRequest>,
) -> Result<Json<ChallengeResponse>, Problem> {
    let started = authkit
        .start_identifier_change(user.caller.caller(), &user.claims, &body.identifier)
        .await?;
    Ok(Json(started.into()))
}

/// Checks the code sent to the new identifier; the user signs in with it from now on,
/// and with their identifier of the other kind if they hold one (`409 identifier_taken`
/// when another user of the tenant holds it).
#[utoipa::path(post, path = "/v1/me/identifier/verify", request_body = VerifyIdentifierChangeRequest, security(("api_key" = [], "access_token" = [])),
    responses((status = 200, body = UserObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn verify_identifier_change(
    State(authkit): State<crate::State>,
    user: SignedInUser,
    JsonBody(body): JsonBody<VerifyIdentifierChangeRequest>,
) -> Result<Json<UserObject>, Problem> {
    let changed = authkit
        .verify_identifier_change(
            user.caller.caller(),
            &user.claims,
            &body.challenge_id,
            &body.code,
        )
        .await?;
    Ok(Json(changed.into()))
}

/// Removes the signed-in user's email address or phone number, while the other remains
/// (`409 last_identifier` otherwise, `404 identifier_not_found` when they hold none of that
/// kind). Needs a sign-in by code or link in the last ten minutes.
#[utoipa::path(post, path = "/v1/me/identifier/remove", request_body = RemoveIdentifierRequest, security(("api_key" = [], "access_token" = [])),
    responses((status = 200, body = UserObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn remove_identifier(
    State(authkit): State<crate::State>,
    user: SignedInUser,
    JsonBody(body): JsonBody<RemoveIdentifierRequest>,
) -> Result<Json<UserObject>, Problem> {
    let kept = authkit
        .remove_identifier(user.caller.caller(), &user.claims, body.kind.into())
        .await?;
    Ok(Json(kept.into()))
}
