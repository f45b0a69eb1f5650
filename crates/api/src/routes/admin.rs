//! The operator API (`/admin/v1`): tenants' whole lifecycle and their keys, for the team
//! running the deployment ([`crate::operator`] says who that is).

use authkit_domain::tenant::{SettingsPatch, TenantId, TenantPolicy, TenantSettings};
use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::Value;

use super::tenancy::{self, idempotency_key, if_match, page, tenant_ok, tenant_response};
use crate::body::{JsonBody, PathParam, QueryParams};
use crate::operator::{AdminState, Operator};
use crate::problem::Problem;
use crate::tenancy_dto::{
    ApiKeyList, ApiKeyObject, CreateApiKeyRequest, CreateTenantRequest, ListQuery,
    RotateApiKeyRequest, TenantList, TenantObject, TenantSettingsPatch,
};

type Admin = State<AdminState>;

/// A tenant id from the path; one that cannot be a tenant's is not found.
async fn tenant_id(state: &AdminState, raw: &str) -> Result<TenantId, Problem> {
    Ok(state.authkit.managed_tenant(raw).await?.id)
}

/// Tenants that are not deleted, by id, a page at a time.
#[utoipa::path(get, path = "/admin/v1/tenants", security(("operator" = [])), params(ListQuery),
    responses((status = 200, body = TenantList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_tenants(
    State(state): Admin,
    _: Operator,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<TenantList>, Problem> {
    let tenants = state.authkit.list_tenants(&page(query)?).await?;
    Ok(Json(tenants.into()))
}

/// Creates a tenant with a publishable and a secret key, shown in this answer only. A
/// retry with the same `Idempotency-Key` gets the same tenant and keys.
#[utoipa::path(post, path = "/admin/v1/tenants", security(("operator" = [])), request_body = CreateTenantRequest,
    params(("idempotency-key" = String, Header, description = "Unique per request (a UUID): a retry with it gets this answer again, never a second tenant or key")),
    responses((status = 201, body = TenantObject), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_tenant(
    State(state): Admin,
    Operator(actor): Operator,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    let idempotency = idempotency_key(&headers)?;
    let Value::Object(mut fields) = body else {
        return Err(AuthError::InvalidSetting(invalid("", "a JSON object")).into());
    };
    let id = match fields.remove("id") {
        Some(Value::String(raw)) => TenantId::parse(&raw)
            .map_err(|error| AuthError::InvalidSetting(invalid("/id", error.to_string())))?,
        _ => return Err(AuthError::InvalidSetting(invalid("/id", "required: a tenant id")).into()),
    };
    let blank = TenantSettings::new(String::new(), Vec::new(), TenantPolicy::default());
    let settings = SettingsPatch::parse(Value::Object(fields))
        .and_then(|patch| patch.apply(&blank))
        .map_err(AuthError::InvalidSetting)?;
    let created = state
        .authkit
        .create_tenant_as(&actor, id, settings, Some(&idempotency))
        .await?;
    Ok(tenant_response(StatusCode::CREATED, created.into()))
}

fn invalid(pointer: &str, detail: impl Into<String>) -> authkit_domain::tenant::InvalidSetting {
    authkit_domain::tenant::InvalidSetting::at(pointer, detail)
}

/// A tenant, suspended ones included; the `ETag` is its revision.
#[utoipa::path(get, path = "/admin/v1/tenants/{id}", security(("operator" = [])), params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantObject, headers(("etag" = String, description = "The tenant's revision"))),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn get_tenant(
    State(state): Admin,
    _: Operator,
    PathParam(id): PathParam<String>,
) -> Result<Response, Problem> {
    Ok(tenant_ok(&state.authkit.managed_tenant(&id).await?))
}

/// Changes a tenant's settings, as `PATCH /v1/tenant` does for the tenant itself.
#[utoipa::path(patch, path = "/admin/v1/tenants/{id}", security(("operator" = [])),
    request_body(content = TenantSettingsPatch, content_type = "application/merge-patch+json"),
    params(("id" = String, Path, description = "tenant id"),
        ("if-match" = Option<String>, Header, description = "The ETag the change was made from")),
    responses((status = 200, body = TenantObject, headers(("etag" = String, description = "The new revision"))),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn update_tenant(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, Problem> {
    let id = tenant_id(&state, &id).await?;
    // The body first: a wrong request is refused as such, whatever its precondition.
    let patch = SettingsPatch::parse(body).map_err(AuthError::InvalidSetting)?;
    let expected = if_match(&headers)?;
    let tenant = state
        .authkit
        .update_tenant_settings(&actor, &id, &patch, expected)
        .await?;
    Ok(tenant_ok(&tenant))
}

/// Suspends a tenant: its sign-ins, refreshes and tenant-API calls are refused with
/// `tenant_suspended` until it is reactivated. Nothing is deleted.
#[utoipa::path(post, path = "/admin/v1/tenants/{id}/suspend", security(("operator" = [])), params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn suspend_tenant(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
) -> Result<Response, Problem> {
    let id = tenant_id(&state, &id).await?;
    Ok(tenant_ok(&state.authkit.suspend_tenant(&actor, &id).await?))
}

/// Lifts a suspension.
#[utoipa::path(post, path = "/admin/v1/tenants/{id}/reactivate", security(("operator" = [])), params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn reactivate_tenant(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
) -> Result<Response, Problem> {
    let id = tenant_id(&state, &id).await?;
    Ok(tenant_ok(
        &state.authkit.reactivate_tenant(&actor, &id).await?,
    ))
}

/// Deletes a tenant: nothing can use it from now on (other warm processes within the
/// cache bound, `AUTHKIT_TENANT_CACHE_SECS`), its
/// records are purged at `purge_at`, and its id is never given out again.
#[utoipa::path(delete, path = "/admin/v1/tenants/{id}", security(("operator" = [])), params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete_tenant(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
) -> Result<Json<TenantObject>, Problem> {
    let id = tenant_id(&state, &id).await?;
    let deleted = state.authkit.delete_tenant(&actor, &id).await?;
    Ok(Json(TenantObject::from(&deleted)))
}

/// A tenant's API keys, newest first.
#[utoipa::path(get, path = "/admin/v1/tenants/{id}/api_keys", security(("operator" = [])),
    params(("id" = String, Path, description = "tenant id"), ListQuery),
    responses((status = 200, body = ApiKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list_keys(
    State(state): Admin,
    _: Operator,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ApiKeyList>, Problem> {
    let id = tenant_id(&state, &id).await?;
    tenancy::list_keys(&state.authkit, &id, query).await
}

/// Creates a key for a tenant; its `secret` is in this answer only.
#[utoipa::path(post, path = "/admin/v1/tenants/{id}/api_keys", security(("operator" = [])), request_body = CreateApiKeyRequest,
    params(("id" = String, Path, description = "tenant id"),
        ("idempotency-key" = String, Header, description = "Unique per request: a retry with it gets this answer again, never a second key")),
    responses((status = 201, body = ApiKeyObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn create_key(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyObject>), Problem> {
    let id = tenant_id(&state, &id).await?;
    tenancy::create_key(&state.authkit, &actor, &id, &headers, body).await
}

/// Revokes one of a tenant's keys (a leaked key: docs/runbooks/leaked-credentials.md).
#[utoipa::path(post, path = "/admin/v1/tenants/{id}/api_keys/{key_id}/revoke", security(("operator" = [])),
    params(("id" = String, Path, description = "tenant id"), ("key_id" = String, Path, description = "key id")),
    responses((status = 200, body = ApiKeyObject), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn revoke_key(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam((id, key_id)): PathParam<(String, String)>,
) -> Result<Json<ApiKeyObject>, Problem> {
    let id = tenant_id(&state, &id).await?;
    tenancy::revoke_key(&state.authkit, &actor, &id, &key_id).await
}

/// Rotates one of a tenant's keys, with an overlap in which the old one still works.
#[utoipa::path(post, path = "/admin/v1/tenants/{id}/api_keys/{key_id}/rotate", security(("operator" = [])), request_body = RotateApiKeyRequest,
    params(("id" = String, Path, description = "tenant id"), ("key_id" = String, Path, description = "key id"),
        ("idempotency-key" = String, Header, description = "Unique per request: a retry with it gets this answer again, never a second key")),
    responses((status = 201, body = ApiKeyObject), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn rotate_key(
    State(state): Admin,
    Operator(actor): Operator,
    PathParam((id, key_id)): PathParam<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RotateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyObject>), Problem> {
    let id = tenant_id(&state, &id).await?;
    tenancy::rotate_key(&state.authkit, &actor, &id, &key_id, &headers, body).await
}
