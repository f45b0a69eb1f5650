//! The tenant's audit log, for its servers (secret key): pages of entries, newest first,
//! and an export of a time range as NDJSON.

use std::sync::Arc;

use authkit_domain::audit::AuditFilter;
use authkit_domain::service::Caller;
use authkit_domain::tenant::Tenant;
use authkit_domain::AuthKit;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream, StreamExt};

use crate::admin_dto::{AuditEventList, AuditEventObject, AuditExportParams, AuditParams};
use crate::body::QueryParams;
use crate::problem::Problem;
use crate::tenant_auth::TenantApiCaller;

pub const NDJSON: &str = "application/x-ndjson";

/// One page of the tenant's audit entries, newest first; identifiers are masked.
#[utoipa::path(get, path = "/v1/audit-events", params(AuditParams), security(("api_key" = [])),
    responses((status = 200, body = AuditEventList), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn list(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Json<AuditEventList>, Problem> {
    let page = authkit
        .audit_events(caller.caller(), params.filter()?)
        .await?;
    Ok(Json(page.into()))
}

/// Every entry of a time range, newest first, one JSON object a line. A failure after the
/// first line ends the stream with a line `{"object": "error", ...}`: a download without
/// it at the end and with fewer lines than expected was cut short.
#[utoipa::path(get, path = "/v1/audit-events/export", params(AuditExportParams), security(("api_key" = [])),
    responses((status = 200, description = "one audit event a line", content_type = "application/x-ndjson", body = AuditEventObject),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn export(
    State(authkit): State<crate::State>,
    TenantApiCaller(caller): TenantApiCaller,
    QueryParams(params): QueryParams<AuditExportParams>,
) -> Result<Response, Problem> {
    let filter = params.filter()?;
    // The first page is read before answering, so that a refusal is a problem response.
    let first = authkit
        .audit_events(caller.caller(), filter.clone())
        .await?;
    let lines = pages(authkit, caller.tenant, caller.ip, filter, first);
    Ok((
        [
            (header::CONTENT_TYPE, NDJSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(lines.map(Ok::<_, std::convert::Infallible>)),
    )
        .into_response())
}

/// The export's lines: `first`, then each following page, read as the client takes them.
fn pages(
    authkit: Arc<AuthKit>,
    tenant: Tenant,
    ip: Option<String>,
    filter: AuditFilter,
    first: authkit_domain::audit::AuditPage,
) -> impl Stream<Item = Bytes> {
    stream::unfold(Some((filter, Ok(first))), move |state| {
        let authkit = authkit.clone();
        let tenant = tenant.clone();
        let ip = ip.clone();
        async move {
            let (mut filter, page) = state?;
            let page = match page {
                Ok(page) => page,
                Err(problem) => return Some((error_line(&problem), None)),
            };
            let mut chunk = Vec::new();
            for (_, event) in &page.entries {
                let line =
                    serde_json::to_vec(&AuditEventObject::from(event.clone())).unwrap_or_default();
                chunk.extend(line);
                chunk.push(b'\n');
            }
            if !page.has_more {
                return Some((Bytes::from(chunk), None));
            }
            filter.starting_after = page.entries.last().map(|(position, _)| position.clone());
            let caller = Caller {
                tenant: &tenant,
                ip: ip.as_deref(),
            };
            let next = authkit
                .audit_events(caller, filter.clone())
                .await
                .map_err(Problem::from);
            Some((Bytes::from(chunk), Some((filter, next))))
        }
    })
}

fn error_line(problem: &Problem) -> Bytes {
    let line =
        serde_json::json!({"object": "error", "code": problem.code, "detail": problem.detail});
    Bytes::from(format!("{line}\n"))
}
