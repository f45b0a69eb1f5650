//! Who may call the operator API (`/admin/v1/…`): the team running the deployment.
//!
//! - In AWS the routes live on their own API Gateway HTTP API with IAM authorization, so a
//!   caller is an IAM principal that signed the request (SigV4) and whose policy allows
//!   `execute-api:Invoke` on it. The admin function checks again that API Gateway
//!   authenticated the caller ([`IamCaller`], which the Lambda adapter takes from the
//!   event's request context), so a misconfigured API without IAM authorization refuses
//!   every call instead of serving anyone. The caller's ARN is logged and audited.
//! - Locally, an operator token printed at start (`Authorization: Bearer …`).

use std::sync::Arc;

use authkit_domain::service::Actor;
use authkit_domain::AuthKit;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::bearer;
use crate::problem::Problem;

/// How operators prove who they are.
#[derive(Clone)]
pub enum OperatorAuth {
    /// The SHA-256 of the local server's operator token.
    Token([u8; 32]),
    /// API Gateway's IAM authorization, checked by AWS before the function runs.
    Iam,
}

impl OperatorAuth {
    pub fn token(token: &str) -> OperatorAuth {
        OperatorAuth::Token(Sha256::digest(token.as_bytes()).into())
    }
}

impl std::fmt::Debug for OperatorAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OperatorAuth::Token(_) => f.write_str("OperatorAuth::Token(***)"),
            OperatorAuth::Iam => f.write_str("OperatorAuth::Iam"),
        }
    }
}

/// The IAM principal API Gateway authenticated, from the event's request context
/// (`requestContext.authorizer.iam.userArn`). Only the Lambda adapter sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamCaller {
    pub arn: String,
}

/// What the operator routes share.
#[derive(Clone)]
pub struct AdminState {
    pub authkit: Arc<AuthKit>,
    pub operator: OperatorAuth,
}

impl FromRef<AdminState> for Arc<AuthKit> {
    fn from_ref(state: &AdminState) -> Arc<AuthKit> {
        state.authkit.clone()
    }
}

/// An authenticated operator, as the audit log names them.
pub(crate) struct Operator(pub Actor);

impl FromRequestParts<AdminState> for Operator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Problem> {
        match &state.operator {
            OperatorAuth::Iam => {
                let Some(IamCaller { arn }) = parts.extensions.get::<IamCaller>() else {
                    tracing::error!(outcome = "operator_forbidden", "an operator request without IAM authentication reached the admin function: is the admin API's route authorization AWS_IAM?");
                    return Err(Problem::new(
                        StatusCode::FORBIDDEN,
                        "operator_forbidden",
                        "the operator API takes only requests API Gateway authenticated with IAM (SigV4)",
                    ));
                };
                tracing::info!(operator = %arn, "operator request");
                Ok(Operator(Actor::Operator(arn.clone())))
            }
            OperatorAuth::Token(expected) => {
                let presented =
                    bearer(&parts.headers).map(|token| Sha256::digest(token.as_bytes()));
                if presented.is_some_and(|digest| bool::from(digest.ct_eq(expected))) {
                    Ok(Operator(Actor::Operator("local".to_owned())))
                } else {
                    Err(Problem::new(
                        StatusCode::UNAUTHORIZED,
                        "operator_unauthorized",
                        "the operator API needs the operator token (Authorization: Bearer …) the local server printed at start",
                    ))
                }
            }
        }
    }
}
