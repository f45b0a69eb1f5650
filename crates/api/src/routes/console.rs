//! The operator's side of tenant members: creating the console tenant members sign in to
//! (idempotent, for a deployment's bootstrap), giving a tenant an owner again, and inviting
//! an address to sign up while sign-up is invite-only.

use authkit_domain::tenant::WebOrigin;
use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;

use super::tenancy::{tenant_ok, tenant_response};
use crate::body::{JsonBody, PathParam};
use crate::members_dto::{
    ConsoleBootstrapRequest, InvitationList, InvitationObject, RestoreOwnerRequest,
    SignupInvitationRequest,
};
use crate::operator::{AdminState, Operator};
use crate::problem::Problem;
use crate::tenancy_dto::TenantObject;

/// Creates the console tenant (id `console`, email codes only) unless it exists. The
/// answer that creates it (201) carries its keys, once; later calls answer 200 with the
/// tenant and change nothing (its settings change like any tenant's).
#[utoipa::path(post, path = "/admin/v1/console", security(("operator" = [])), request_body = ConsoleBootstrapRequest,
    responses((status = 201, body = TenantObject), (status = 200, body = TenantObject),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn bootstrap(
    State(state): State<AdminState>,
    Operator(actor): Operator,
    JsonBody(body): JsonBody<ConsoleBootstrapRequest>,
) -> Result<Response, Problem> {
    let origins = body
        .allowed_origins
        .iter()
        .map(|raw| WebOrigin::parse(raw))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            AuthError::InvalidRequest("allowed_origins are origins: https://host[:port]")
        })?;
    match state.authkit.ensure_console_tenant(&actor, origins).await? {
        Some(created) => Ok(tenant_response(StatusCode::CREATED, created.into())),
        None => Ok(tenant_ok(
            &state
                .authkit
                .managed_tenant(authkit_domain::member::CONSOLE_TENANT)
                .await?,
        )),
    }
}

/// Invites an address as owner of the tenant, whatever its members are: the way back for
/// a tenant whose owners are gone. Audited as the operator's.
#[utoipa::path(post, path = "/admin/v1/tenants/{id}/owners", security(("operator" = [])), request_body = RestoreOwnerRequest,
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 202, body = InvitationObject), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn restore_owner(
    State(state): State<AdminState>,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<RestoreOwnerRequest>,
) -> Result<(StatusCode, Json<InvitationObject>), Problem> {
    let tenant = state.authkit.managed_tenant(&id).await?;
    let invited = state
        .authkit
        .restore_owner(&actor, &tenant.id, &body.email)
        .await?;
    Ok((StatusCode::ACCEPTED, Json((&invited).into())))
}

/// Invites an address to sign up while `AUTHKIT_SIGNUP` is `invite_only` (decision 169):
/// once it has proved the address to the console, it may create a tenant. Emailed like a
/// member invitation; valid 7 days; audited as the operator's.
#[utoipa::path(post, path = "/admin/v1/signup/invitations", security(("operator" = [])), request_body = SignupInvitationRequest,
    responses((status = 202, body = InvitationObject), (status = 404, description = "no console tenant yet", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn invite_to_sign_up(
    State(state): State<AdminState>,
    Operator(actor): Operator,
    JsonBody(body): JsonBody<SignupInvitationRequest>,
) -> Result<(StatusCode, Json<InvitationObject>), Problem> {
    let invited = state.authkit.invite_to_sign_up(&actor, &body.email).await?;
    Ok((StatusCode::ACCEPTED, Json((&invited).into())))
}

/// The sign-up invitations still pending, addresses masked.
#[utoipa::path(get, path = "/admin/v1/signup/invitations", security(("operator" = [])),
    responses((status = 200, body = InvitationList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn signup_invitations(
    State(state): State<AdminState>,
    Operator(_): Operator,
) -> Result<Json<InvitationList>, Problem> {
    Ok(Json(state.authkit.list_signup_invitations().await?.into()))
}

/// Revokes a sign-up invitation: the address may no longer sign up while sign-up is
/// invite-only (a tenant it already made stays).
#[utoipa::path(delete, path = "/admin/v1/signup/invitations/{id}", security(("operator" = [])),
    params(("id" = String, Path, description = "invitation id")),
    responses((status = 204, description = "revoked"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke_signup_invitation(
    State(state): State<AdminState>,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, Problem> {
    state.authkit.revoke_signup_invitation(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
