use axum::extract::State;
use axum::Json;

use crate::dto::Health;
use crate::problem::Problem;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store answers and key material is loaded.
#[utoipa::path(get, path = "/ready", responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn ready(State(authkit): State<crate::State>) -> Result<Json<Health>, Problem> {
    authkit.readiness().await?;
    Ok(Json(Health { status: "ready" }))
}
