//! Adding a contact to a signed-in Cognito user: a code to the new contact, then the code
//! back, and only then the pool records the contact as verified. A contact nobody proved
//! never reaches the pool through AuthKit (decision 19), so it can never receive a
//! sign-in code.

use authkit_api::{ChallengeResponse, Problem, TenantCaller};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

use crate::routes::{directory_problem, PoolRoutes};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddContactRequest {
    /// The email address or phone number to add.
    pub identifier: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyContactRequest {
    pub challenge_id: String,
    pub code: String,
}

/// `POST /v1/cognito/contacts`: sends a code to the new contact, good only for adding it
/// to this user.
pub(crate) async fn start(
    State(state): State<PoolRoutes>,
    caller: TenantCaller,
    headers: HeaderMap,
    authkit_api::JsonBody(body): authkit_api::JsonBody<AddContactRequest>,
) -> Result<Json<ChallengeResponse>, Problem> {
    let user = state.signed_in_user(&caller, &headers).await?;
    let started = state
        .authkit
        .start_contact_proof(caller.caller(), &body.identifier, &state.account(&user))
        .await?;
    Ok(Json(started.into()))
}

/// `POST /v1/cognito/contacts/verify`: checks the code (counted like a sign-in answer)
/// and sets the contact, verified, on the user.
pub(crate) async fn verify(
    State(state): State<PoolRoutes>,
    caller: TenantCaller,
    headers: HeaderMap,
    authkit_api::JsonBody(body): authkit_api::JsonBody<VerifyContactRequest>,
) -> Result<StatusCode, Problem> {
    let user = state.signed_in_user(&caller, &headers).await?;
    let proven = state
        .authkit
        .verify_contact_proof(
            caller.caller(),
            &body.challenge_id,
            &body.code,
            &state.account(&user),
        )
        .await?;
    state
        .directory
        .set_verified_contact(&state.pool.user_pool_id, &user.username, &proven)
        .await
        .map_err(directory_problem)?;
    Ok(StatusCode::NO_CONTENT)
}
