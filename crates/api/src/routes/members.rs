//! Tenant members: the tenant's owners invite, re-role and remove them and revoke pending
//! invitations (a secret key may too); every role lists members and invitations. A member's own tenants and invitations are read with
//! their console token alone.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::tenancy::page;
use crate::body::{JsonBody, PathParam, QueryParams};
use crate::members_dto::{
    InvitationList, InvitationObject, InviteMemberRequest, MemberList, MemberObject, SetRoleRequest,
};
use crate::problem::Problem;
use crate::tenancy_dto::ListQuery;
use crate::tenant_auth::{ConsoleCaller, TenantApiCaller};

/// The tenant's members, by id.
#[utoipa::path(get, path = "/v1/members", security(("api_key" = []), ("member" = [])), params(ListQuery),
    responses((status = 200, body = MemberList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<MemberList>, Problem> {
    let members = authkit
        .list_members(&caller.tenant.id, &page(query)?)
        .await?;
    Ok(Json(members.into()))
}

/// Invites an address with a role (owners). It becomes a member when it signs in to the
/// console and accepts; the answer is the same whether or not it has an account.
#[utoipa::path(post, path = "/v1/members", security(("api_key" = []), ("member" = [])), request_body = InviteMemberRequest,
    responses((status = 202, body = InvitationObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn invite(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    JsonBody(body): JsonBody<InviteMemberRequest>,
) -> Result<(StatusCode, Json<InvitationObject>), Problem> {
    let invited = authkit
        .invite_member(
            &caller.actor(),
            &caller.tenant.id,
            &body.email,
            body.role.into(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json((&invited).into())))
}

/// The tenant's pending invitations (every role), addresses masked.
#[utoipa::path(get, path = "/v1/invitations", security(("api_key" = []), ("member" = [])),
    responses((status = 200, body = InvitationList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn invitations(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
) -> Result<Json<InvitationList>, Problem> {
    Ok(Json(
        authkit.list_invitations(&caller.tenant.id).await?.into(),
    ))
}

/// Revokes a pending invitation (owners): the address can no longer accept it. One
/// already accepted made a member, removed with `DELETE /v1/members/{id}` instead.
#[utoipa::path(delete, path = "/v1/invitations/{id}", security(("api_key" = []), ("member" = [])),
    params(("id" = String, Path, description = "invitation id")),
    responses((status = 204, description = "revoked"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke_invitation(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, Problem> {
    authkit
        .revoke_invitation(&caller.actor(), &caller.tenant.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a member's role (owners). Demoting the last owner is refused (409 `last_owner`).
#[utoipa::path(patch, path = "/v1/members/{id}", security(("api_key" = []), ("member" = [])), request_body = SetRoleRequest,
    params(("id" = String, Path, description = "member id")),
    responses((status = 200, body = MemberObject), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn set_role(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<SetRoleRequest>,
) -> Result<Json<MemberObject>, Problem> {
    let member = authkit
        .set_member_role(&caller.actor(), &caller.tenant.id, &id, body.role.into())
        .await?;
    Ok(Json((&member).into()))
}

/// Removes a member (owners). Removing the last owner is refused (409 `last_owner`).
#[utoipa::path(delete, path = "/v1/members/{id}", security(("api_key" = []), ("member" = [])),
    params(("id" = String, Path, description = "member id")),
    responses((status = 204, description = "removed"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn remove(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, Problem> {
    authkit
        .remove_member(&caller.actor(), &caller.tenant.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenants the signed-in console user is a member of.
#[utoipa::path(get, path = "/v1/memberships", security(("member" = [])),
    responses((status = 200, body = MemberList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn mine(
    State(authkit): State<crate::State>,
    ConsoleCaller(console): ConsoleCaller,
) -> Result<Json<MemberList>, Problem> {
    Ok(Json(authkit.memberships(&console.user).await?.into()))
}

/// Accepts every pending invitation of the signed-in console user's address (it proved
/// the address by signing in), and answers their tenants.
#[utoipa::path(post, path = "/v1/memberships/accept", security(("member" = [])),
    responses((status = 200, body = MemberList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn accept(
    State(authkit): State<crate::State>,
    ConsoleCaller(console): ConsoleCaller,
) -> Result<Json<MemberList>, Problem> {
    Ok(Json(
        authkit.accept_invitations(&console.user).await?.into(),
    ))
}

/// Leaves a tenant: the signed-in console user removes their own membership. The last
/// owner cannot leave (409 `last_owner`); a tenant they are not on answers 404.
#[utoipa::path(delete, path = "/v1/memberships/{tenant}", security(("member" = [])),
    params(("tenant" = String, Path, description = "tenant id")),
    responses((status = 204, description = "left"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn leave(
    State(authkit): State<crate::State>,
    ConsoleCaller(console): ConsoleCaller,
    PathParam(tenant): PathParam<String>,
) -> Result<StatusCode, Problem> {
    authkit.leave_tenant(&console.user, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}
