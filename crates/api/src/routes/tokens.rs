use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::auth::{SecretKeyCaller, TenantCaller};
use crate::body::{FormOrJson, JsonBody};
use crate::dto::{IntrospectRequest, IntrospectionResponse, RefreshRequest, TokenResponse};
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

/// Token introspection (RFC 7662) for the tenant's resource servers: whether an access
/// token is still live — signed by AuthKit for this tenant, unexpired, and its session not
/// revoked. Needs the tenant's secret key.
#[utoipa::path(post, path = "/v1/token/introspect",
    request_body(content(
        (IntrospectRequest = "application/x-www-form-urlencoded"),
        (IntrospectRequest = "application/json"),
    )),
    security(("api_key" = [])),
    responses((status = 200, body = IntrospectionResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn introspect(
    State(authkit): State<crate::State>,
    SecretKeyCaller(caller): SecretKeyCaller,
    FormOrJson(body): FormOrJson<IntrospectRequest>,
) -> Result<Json<IntrospectionResponse>, Problem> {
    Ok(Json(
        authkit
            .introspect(&caller.tenant.id, &body.token)
            .await?
            .into(),
    ))
}
