//! The tenant API, for the tenant's servers (secret key): its settings and its API keys.

use authkit_domain::member::Operation;
use authkit_domain::tenant::SettingsPatch;
use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::Value;

use super::tenancy::{self, if_match, tenant_ok};
use crate::body::{JsonBody, PathParam, QueryParams};
use crate::problem::Problem;
use crate::tenancy_dto::{
    ApiKeyList, ApiKeyObject, CreateApiKeyRequest, ListQuery, RotateApiKeyRequest, TenantObject,
    TenantSettingsPatch,
};
use crate::tenant_auth::{TenantApi, TenantApiCaller};

/// The calling tenant's settings; the `ETag` is its revision, for `If-Match` on a change.
/// Read from the store, not the process's cache of tenants, so the `ETag` is current.
#[utoipa::path(get, path = "/v1/tenant", security(("api_key" = [])),
    responses((status = 200, body = TenantObject, headers(("etag" = String, description = "The tenant's revision"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
) -> Result<Response, Problem> {
    let tenant = authkit.managed_tenant(caller.tenant.id.as_str()).await?;
    Ok(tenant_ok(&tenant))
}

/// Changes the calling tenant's settings (a JSON Merge Patch). With `If-Match`, only if
/// the tenant is still at that revision (else 412); a wrong value is refused naming it.
#[utoipa::path(patch, path = "/v1/tenant", security(("api_key" = [])),
    request_body(content = TenantSettingsPatch, content_type = "application/merge-patch+json"),
    params(("if-match" = Option<String>, Header, description = "The ETag the change was made from")),
    responses((status = 200, body = TenantObject, headers(("etag" = String, description = "The new revision"))),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn update(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    // The body first: a wrong request is refused as such, whatever its precondition.
    let patch = SettingsPatch::parse(body).map_err(AuthError::InvalidSetting)?;
    let expected = if_match(&headers)?;
    let tenant = authkit
        .update_tenant_settings(&caller.actor(), &caller.tenant.id, &patch, expected)
        .await?;
    Ok(tenant_ok(&tenant))
}

/// The tenant's API keys, newest first; never their secrets.
#[utoipa::path(get, path = "/v1/api_keys", security(("api_key" = [])), params(ListQuery),
    responses((status = 200, body = ApiKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_keys(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ApiKeyList>, Problem> {
    tenancy::list_keys(&authkit, &caller.tenant.id, query).await
}

/// Creates a key; its `secret` is in this answer only.
#[utoipa::path(post, path = "/v1/api_keys", security(("api_key" = [])), request_body = CreateApiKeyRequest,
    params(("idempotency-key" = String, Header, description = "Unique per request (a UUID): a retry with it gets this answer again, never a second key")),
    responses((status = 201, body = ApiKeyObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_key(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyObject>), Problem> {
    caller.permit(Operation::manage_key(body.kind.into()))?;
    tenancy::create_key(&authkit, &caller.actor(), &caller.tenant.id, &headers, body).await
}

/// One of the tenant's keys. Another tenant's key id is not found.
#[utoipa::path(get, path = "/v1/api_keys/{id}", security(("api_key" = [])), params(("id" = String, Path, description = "key id")),
    responses((status = 200, body = ApiKeyObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_key(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<ApiKeyObject>, Problem> {
    let entry = authkit.api_key(&caller.tenant.id, &id).await?;
    Ok(Json(ApiKeyObject::from(&entry)))
}

/// Revokes a key. It stops working within `revocation_takes_effect_within_secs`.
#[utoipa::path(post, path = "/v1/api_keys/{id}/revoke", security(("api_key" = [])), params(("id" = String, Path, description = "key id")),
    responses((status = 200, body = ApiKeyObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke_key(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
) -> Result<Json<ApiKeyObject>, Problem> {
    permit_key(&authkit, &caller, &id).await?;
    tenancy::revoke_key(&authkit, &caller.actor(), &caller.tenant.id, &id).await
}

/// Replaces a key with a new one of the same kind (its `secret` in this answer only);
/// the old key keeps working for `expires_in_secs` (default a day) so servers can switch.
#[utoipa::path(post, path = "/v1/api_keys/{id}/rotate", security(("api_key" = [])), request_body = RotateApiKeyRequest,
    params(("id" = String, Path, description = "key id"),
        ("idempotency-key" = String, Header, description = "Unique per request: a retry with it gets this answer again, never a second key")),
    responses((status = 201, body = ApiKeyObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn rotate_key(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RotateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyObject>), Problem> {
    permit_key(&authkit, &caller, &id).await?;
    tenancy::rotate_key(
        &authkit,
        &caller.actor(),
        &caller.tenant.id,
        &id,
        &headers,
        body,
    )
    .await
}

/// A member may rotate or revoke a key only if their role covers its kind; the key is read
/// first (unknown ids answer 404 as before). A secret key may manage every key.
async fn permit_key(authkit: &crate::State, caller: &TenantApi, id: &str) -> Result<(), Problem> {
    if caller.permit(Operation::ManageSecretKeys).is_err() {
        let entry = authkit.api_key(&caller.tenant.id, id).await?;
        caller.permit(Operation::manage_key(entry.kind))?;
    }
    Ok(())
}
