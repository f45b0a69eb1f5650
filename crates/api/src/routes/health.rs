use std::sync::Arc;

use authkit_domain::store::AuditLog;
use authkit_domain::AuthError;
use axum::extract::State;
use axum::Json;

use crate::dto::Health;
use crate::problem::Problem;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/ready", responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn ready(State(store): State<Arc<dyn AuditLog>>) -> Result<Json<Health>, Problem> {
    store.ping().await.map_err(AuthError::from)?;
    Ok(Json(Health { status: "ready" }))
}
