//! The signed-in user's own account (API key + access token): changing the identifier they
//! sign in with, proved by a code sent to the new one.

use axum::extract::State;
use axum::Json;

use crate::admin_dto::UserObject;
use crate::auth::SignedInUser;
use crate::body::JsonBody;
use crate::dto::{ChallengeResponse, ChangeIdentifierRequest, VerifyIdentifierChangeRequest};
use crate::problem::Problem;

/// Sends a code to a new identifier for the signed-in user. Needs a sign-in by code or
/// link in the last ten minutes (`401 insufficient_user_authentication` otherwise).
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

/// Checks the code sent to the new identifier; the user signs in with it from now on
/// (`409 identifier_taken` when another user of the tenant holds it).
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
