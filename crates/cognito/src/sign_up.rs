//! Sign-up on first sign-in: `POST /v1/cognito/users` creates the Cognito user for a new
//! identifier, so it can start CUSTOM_AUTH at once. The answer is the same whether or not
//! the user existed.

use std::sync::Arc;

use authkit_api::{Problem, TenantCaller};
use authkit_domain::identifier::Identifier;
use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

use crate::directory::UserDirectory;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub identifier: String,
}

#[derive(Clone)]
struct SignUp {
    authkit: Arc<authkit_domain::AuthKit>,
    directory: Arc<dyn UserDirectory>,
    user_pool_id: Arc<str>,
}

impl axum::extract::FromRef<SignUp> for Arc<authkit_domain::AuthKit> {
    fn from_ref(state: &SignUp) -> Self {
        state.authkit.clone()
    }
}

pub fn sign_up_routes(
    authkit: Arc<authkit_domain::AuthKit>,
    directory: Arc<dyn UserDirectory>,
    user_pool_id: &str,
) -> Router {
    authkit_api::finish(
        Router::new()
            .route("/v1/cognito/users", post(sign_up))
            .with_state(SignUp {
                authkit,
                directory,
                user_pool_id: user_pool_id.into(),
            }),
    )
}

async fn sign_up(
    State(state): State<SignUp>,
    caller: TenantCaller,
    authkit_api::JsonBody(body): authkit_api::JsonBody<SignUpRequest>,
) -> Result<StatusCode, Problem> {
    let identifier = Identifier::parse(&body.identifier, caller.tenant.policy.default_region)
        .map_err(AuthError::from)?;
    state
        .directory
        .create_user(&state.user_pool_id, &identifier)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "creating the Cognito user failed");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "user_pool_unavailable",
                "the user pool could not be reached",
            )
        })?;
    Ok(StatusCode::ACCEPTED)
}
