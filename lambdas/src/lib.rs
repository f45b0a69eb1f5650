//! What every AuthKit Lambda binary does at cold start: JSON logs, configuration read once,
//! clients and key material built once, then the runtime loop. Each binary under `src/bin/`
//! only names the routes or trigger it serves.

use std::sync::Arc;

use authkit_app::{App, Config};
use authkit_domain::AuthKit;

pub type Error = lambda_runtime::Error;

/// Builds the service once per cold start.
async fn cold_start() -> Result<App, Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    Ok(App::build(config).await?)
}

/// Serves one group of HTTP routes behind API Gateway (HTTP API, payload v2).
pub async fn serve_http(routes: fn(Arc<AuthKit>) -> axum::Router) -> Result<(), Error> {
    let app = cold_start().await?;
    lambda_http::run(routes(app.authkit)).await
}
