//! The tenant's users, for its servers (secret key): find, read, disable and enable, their
//! devices and sessions, export and erasure. Another tenant's user id answers 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::admin_dto::{
    FindUserParams, RevokedSessions, SessionList, UserDeviceList, UserExportDocument, UserObject,
};
use crate::body::{PathParam, QueryParams};
use crate::problem::Problem;
use crate::tenant_auth::TenantApiCaller;

/// Finds the user an identifier names.
#[utoipa::path(get, path = "/v1/users", params(FindUserParams), security(("api_key" = [])),
    responses((status = 200, body = UserObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn find(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    QueryParams(params): QueryParams<FindUserParams>,
) -> Result<Json<UserObject>, Problem> {
    let user = authkit
        .find_user(caller.caller(), &params.identifier)
        .await?;
    Ok(Json(user.into()))
}

/// One user.
#[utoipa::path(get, path = "/v1/users/{id}", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = UserObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<UserObject>, Problem> {
    Ok(Json(authkit.user(caller.caller(), &id).await?.into()))
}

/// Disables a user: their sessions are revoked, and no sign-in opens a new one until the
/// user is enabled again.
#[utoipa::path(post, path = "/v1/users/{id}/disable", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = UserObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn disable(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<UserObject>, Problem> {
    Ok(Json(
        authkit.disable_user(caller.caller(), &id).await?.into(),
    ))
}

/// Enables a disabled user.
#[utoipa::path(post, path = "/v1/users/{id}/enable", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = UserObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn enable(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<UserObject>, Problem> {
    Ok(Json(
        authkit.enable_user(caller.caller(), &id).await?.into(),
    ))
}

/// A user's devices, revoked ones included. Never secrets.
#[utoipa::path(get, path = "/v1/users/{id}/devices", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = UserDeviceList), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn devices(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<UserDeviceList>, Problem> {
    let devices = authkit.user_devices(caller.caller(), &id).await?;
    Ok(Json(UserDeviceList {
        object: "list",
        data: devices.into_iter().map(Into::into).collect(),
        has_more: false,
    }))
}

/// A user's sessions that have not expired, revoked ones included.
#[utoipa::path(get, path = "/v1/users/{id}/sessions", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = SessionList), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn sessions(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<SessionList>, Problem> {
    let sessions = authkit.user_sessions(caller.caller(), &id).await?;
    Ok(Json(SessionList::of(sessions)))
}

/// Revokes every live session of a user (their refresh tokens stop working, and their
/// access tokens fail introspection).
#[utoipa::path(post, path = "/v1/users/{id}/sessions/revoke", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = RevokedSessions), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke_sessions(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<RevokedSessions>, Problem> {
    let revoked = authkit.revoke_user_sessions(caller.caller(), &id).await?;
    Ok(Json(RevokedSessions {
        object: "session_revocation",
        revoked,
    }))
}

/// Everything AuthKit holds about a user, as one JSON document (data portability).
#[utoipa::path(get, path = "/v1/users/{id}/export", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 200, body = UserExportDocument), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn export(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<UserExportDocument>, Problem> {
    let export = authkit.export_user(caller.caller(), &id).await?;
    Ok(Json(UserExportDocument::of(export)))
}

/// Erases a user: the user, their identifier, devices and sessions are deleted; their
/// audit entries are kept under a pseudonym; the erasure itself is audited.
#[utoipa::path(delete, path = "/v1/users/{id}", params(("id" = String, Path, description = "user id")), security(("api_key" = [])),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn erase(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, Problem> {
    authkit.erase_user(caller.caller(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
