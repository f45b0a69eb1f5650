//! Sign-up on first sign-in: `POST /v1/cognito/users` creates the Cognito user for a new
//! identifier, with that identifier as its only contact, so it can start CUSTOM_AUTH at
//! once. The answer is the same whether or not the user existed.

use authkit_api::{Problem, TenantCaller};
use authkit_domain::identifier::Identifier;
use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::routes::{directory_problem, PoolRoutes};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub identifier: String,
}

pub(crate) async fn sign_up(
    State(state): State<PoolRoutes>,
    caller: TenantCaller,
    authkit_api::JsonBody(body): authkit_api::JsonBody<SignUpRequest>,
) -> Result<StatusCode, Problem> {
    state.check_tenant(&caller.tenant)?;
    let identifier = Identifier::parse(&body.identifier, caller.tenant.policy.default_region)
        .map_err(AuthError::from)?;
    state
        .directory
        .create_user(&state.pool.user_pool_id, &identifier)
        .await
        .map_err(directory_problem)?;
    Ok(StatusCode::ACCEPTED)
}
