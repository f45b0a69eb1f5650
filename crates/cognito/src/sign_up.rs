//! Sign-up on first sign-in: `POST /v1/cognito/users` creates the Cognito user for a new
//! identifier, with that identifier as its only contact, so it can start CUSTOM_AUTH at
//! once. The answer is the same whether or not the user existed.

use authkit_api::{Problem, SecretKeyCaller};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::routes::{directory_problem, PoolRoutes};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub identifier: String,
}

/// Needs the secret key: servers create users. A publishable key would let anyone create
/// accounts for any address; the sign-up limits (per IP and per tenant) bound even a
/// server.
pub(crate) async fn sign_up(
    State(state): State<PoolRoutes>,
    SecretKeyCaller(caller): SecretKeyCaller,
    authkit_api::JsonBody(body): authkit_api::JsonBody<SignUpRequest>,
) -> Result<StatusCode, Problem> {
    state.check_tenant(&caller.tenant)?;
    let identifier = state
        .authkit
        .admit_sign_up(caller.caller(), &body.identifier)
        .await?;
    state
        .directory
        .create_user(&state.pool.user_pool_id, &identifier)
        .await
        .map_err(directory_problem)?;
    Ok(StatusCode::ACCEPTED)
}
