use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::auth::TenantCaller;
use crate::body::JsonBody;
use crate::dto::{RefreshRequest, TokenResponse};
use crate::problem::Problem;

/// Rotates a refresh token. Presenting an already-rotated one revokes its whole session.
#[utoipa::path(post, path = "/v1/token/refresh", request_body = RefreshRequest, security(("api_key" = [])),
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn refresh(
    State(authkit): State<crate::State>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<TokenResponse>, Problem> {
    Ok(Json(
        authkit
            .refresh(caller.caller(), &body.refresh_token)
            .await?
            .into(),
    ))
}

/// Signs out: revokes the refresh token's session. Always 200 (RFC 7009).
#[utoipa::path(post, path = "/v1/token/revoke", request_body = RefreshRequest, security(("api_key" = [])),
    responses((status = 200, description = "Revoked, or nothing to revoke")))]
pub(crate) async fn revoke(
    State(authkit): State<crate::State>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<StatusCode, Problem> {
    authkit
        .revoke_session(caller.caller(), &body.refresh_token)
        .await?;
    Ok(StatusCode::OK)
}
