//! AuthKit's HTTP routes for a Cognito user pool, served by the sign-up function:
//!
//! | route | credentials | does |
//! |---|---|---|
//! | `POST /v1/cognito/users` | secret API key | creates the user for a new identifier (sign-up on first sign-in) |
//! | `POST /v1/cognito/contacts` | API key (publishable or secret) + the user's Cognito access token | sends a code to a new contact |
//! | `POST /v1/cognito/contacts/verify` | API key + the same access token | checks the code, sets the contact verified |
//!
//! Keys of the tenant the pool serves only: the pool belongs to that tenant's app.

use std::sync::Arc;

use authkit_api::{Problem, TenantCaller};
use authkit_domain::tenant::{Tenant, TenantId};
use authkit_domain::AuthError;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

use crate::directory::{DirectoryError, PoolUser, UserDirectory};
use crate::{add_contact, sign_up};

/// The user pool the routes act on, and the tenant whose API keys may call them (the
/// tenant Cognito sign-ins use, `AUTHKIT_COGNITO_TENANT`).
#[derive(Debug, Clone)]
pub struct ServedPool {
    pub user_pool_id: String,
    pub tenant: TenantId,
}

#[derive(Clone)]
pub(crate) struct PoolRoutes {
    pub authkit: Arc<authkit_domain::AuthKit>,
    pub directory: Arc<dyn UserDirectory>,
    pub pool: Arc<ServedPool>,
}

impl axum::extract::FromRef<PoolRoutes> for Arc<authkit_domain::AuthKit> {
    fn from_ref(state: &PoolRoutes) -> Self {
        state.authkit.clone()
    }
}

pub fn cognito_routes(
    authkit: Arc<authkit_domain::AuthKit>,
    directory: Arc<dyn UserDirectory>,
    pool: ServedPool,
) -> Router {
    authkit_api::finish(
        Router::new()
            .route("/v1/cognito/users", post(sign_up::sign_up))
            .route("/v1/cognito/contacts", post(add_contact::start))
            .route("/v1/cognito/contacts/verify", post(add_contact::verify))
            .with_state(PoolRoutes {
                authkit,
                directory,
                pool: Arc::new(pool),
            }),
    )
}

/// An API key of a tenant other than the pool's.
pub(crate) struct TenantMismatch;

impl From<TenantMismatch> for Problem {
    fn from(_: TenantMismatch) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "tenant_mismatch",
            "this user pool serves another tenant's app; use that tenant's API key",
        )
    }
}

impl PoolRoutes {
    /// Refuses keys of other tenants: each tenant's app has its own pool.
    pub fn check_tenant(&self, tenant: &Tenant) -> Result<(), TenantMismatch> {
        if tenant.id == self.pool.tenant {
            Ok(())
        } else {
            Err(TenantMismatch)
        }
    }

    /// The tenant's caller and the pool user whose access token is the bearer.
    pub async fn signed_in_user(
        &self,
        caller: &TenantCaller,
        headers: &HeaderMap,
    ) -> Result<PoolUser, Problem> {
        self.check_tenant(&caller.tenant)?;
        let token = authkit_api::bearer(headers).ok_or(AuthError::InvalidAccessToken)?;
        self.directory
            .user_for_access_token(&self.pool.user_pool_id, token)
            .await
            .map_err(directory_problem)?
            .ok_or_else(|| AuthError::InvalidAccessToken.into())
    }

    /// What a contact proof is bound to: this pool's user.
    pub fn account(&self, user: &PoolUser) -> String {
        format!("cognito:{}:{}", self.pool.user_pool_id, user.username)
    }
}

pub(crate) fn directory_problem(error: DirectoryError) -> Problem {
    match error {
        DirectoryError::ContactTaken => Problem::new(
            StatusCode::CONFLICT,
            "contact_in_use",
            "the contact already belongs to another user of the pool",
        ),
        DirectoryError::Unavailable(_) => {
            tracing::error!(error = ?error, "the user pool call failed");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "user_pool_unavailable",
                "the user pool could not be reached",
            )
        }
    }
}
