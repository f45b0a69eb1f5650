//! What the tenant API and the operator API share: the tenant and key handlers' bodies,
//! and the headers of creating and conditional requests.

use authkit_domain::service::{Actor, IdempotencyKey, PageRequest, MAX_ROTATION_OVERLAP_SECS};
use authkit_domain::tenant::{Tenant, TenantId};
use authkit_domain::{AuthError, AuthKit};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::problem::Problem;
use crate::tenancy_dto::{
    ApiKeyList, ApiKeyObject, CreateApiKeyRequest, ListQuery, RotateApiKeyRequest, TenantObject,
};

/// How long a rotated key keeps working unless the request says otherwise: a day.
const DEFAULT_OVERLAP_SECS: u32 = 24 * 3600;

/// The `Idempotency-Key` a creating request must carry; a retry with the same value gets
/// the first request's answer.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, AuthError> {
    optional_idempotency_key(headers)?.ok_or(AuthError::InvalidIdempotencyKey)
}

/// The request's `Idempotency-Key`, where the route can do without one.
pub(crate) fn optional_idempotency_key(
    headers: &HeaderMap,
) -> Result<Option<IdempotencyKey>, AuthError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let raw = value
        .to_str()
        .map_err(|_| AuthError::InvalidIdempotencyKey)?;
    IdempotencyKey::parse(raw).map(Some)
}

/// The revision `If-Match` names (`"3"`, `W/"3"`); `*` or no header: any. An entity tag
/// that is not one of ours is the caller's mistake (400), not a lost update.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, AuthError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = value.to_str().unwrap_or_default().trim();
    if raw == "*" {
        return Ok(None);
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            AuthError::InvalidRequest("If-Match is an ETag this API gave (\"<revision>\"), or *")
        })
}

/// A tenant with its revision as the `ETag`.
pub(crate) fn tenant_response(status: StatusCode, tenant: TenantObject) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", tenant.revision))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    (status, [(header::ETAG, etag)], Json(tenant)).into_response()
}

pub(crate) fn tenant_ok(tenant: &Tenant) -> Response {
    tenant_response(StatusCode::OK, TenantObject::from(tenant))
}

pub(crate) fn page(query: ListQuery) -> Result<PageRequest, AuthError> {
    PageRequest::parse(query.limit, query.starting_after)
}

pub(crate) async fn list_keys(
    authkit: &AuthKit,
    tenant: &TenantId,
    query: ListQuery,
) -> Result<Json<ApiKeyList>, Problem> {
    let page = authkit.list_api_keys(tenant, &page(query)?).await?;
    Ok(Json(page.into()))
}

pub(crate) async fn create_key(
    authkit: &AuthKit,
    actor: &Actor,
    tenant: &TenantId,
    headers: &HeaderMap,
    body: CreateApiKeyRequest,
) -> Result<(StatusCode, Json<ApiKeyObject>), Problem> {
    let idempotency = idempotency_key(headers)?;
    let issued = authkit
        .create_api_key(actor, tenant, body.kind.into(), Some(&idempotency))
        .await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

pub(crate) async fn revoke_key(
    authkit: &AuthKit,
    actor: &Actor,
    tenant: &TenantId,
    id: &str,
) -> Result<Json<ApiKeyObject>, Problem> {
    let revoked = authkit.revoke_api_key(actor, tenant, id).await?;
    Ok(Json(ApiKeyObject::revoked(
        &revoked,
        authkit.settings().tenant_cache_secs,
    )))
}

pub(crate) async fn rotate_key(
    authkit: &AuthKit,
    actor: &Actor,
    tenant: &TenantId,
    id: &str,
    headers: &HeaderMap,
    body: RotateApiKeyRequest,
) -> Result<(StatusCode, Json<ApiKeyObject>), Problem> {
    let idempotency = idempotency_key(headers)?;
    let overlap = body.expires_in_secs.unwrap_or(DEFAULT_OVERLAP_SECS);
    if overlap > MAX_ROTATION_OVERLAP_SECS {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expires_in_secs is 0-604800 (7 days)",
        )
        .at_field("/expires_in_secs", "0-604800"));
    }
    let rotated = authkit
        .rotate_api_key(actor, tenant, id, overlap, Some(&idempotency))
        .await?;
    Ok((StatusCode::CREATED, Json(rotated.into())))
}
