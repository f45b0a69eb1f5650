//! What every AuthKit Lambda binary does at cold start: JSON logs, configuration read once,
//! clients and key material built once, then the runtime loop. Each binary under `src/bin/`
//! only names the routes or trigger it serves.

use std::future::Future;
use std::sync::Arc;

use authkit_app::{App, Config, DeliveryChoice};
use authkit_cognito::{CognitoDirectory, Triggers, UserDirectory};
use authkit_domain::AuthKit;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};

pub type Error = lambda_runtime::Error;

/// Builds the service once per cold start. Lambda functions never deliver to the dev
/// outbox, whatever features the build unified.
async fn cold_start() -> Result<App, Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    if matches!(config.delivery, DeliveryChoice::Outbox { .. }) {
        return Err("AUTHKIT_DELIVERY must be `aws` in a Lambda function".into());
    }
    Ok(App::build(config).await?)
}

/// Serves one group of HTTP routes behind API Gateway (HTTP API, payload v2).
pub async fn serve_http(routes: fn(Arc<AuthKit>) -> axum::Router) -> Result<(), Error> {
    let app = cold_start().await?;
    lambda_http::run(routes(app.authkit)).await
}

/// The user-pool client. Lambda functions always deliver through AWS, so the SDK
/// configuration is loaded.
fn user_directory(app: &App) -> Option<Arc<dyn UserDirectory>> {
    let sdk = app.sdk.as_ref()?;
    Some(Arc::new(CognitoDirectory::new(
        aws_sdk_cognitoidentityprovider::Client::new(sdk),
    )))
}

/// Serves AuthKit's routes for the Cognito user pool: sign-up, adding a contact.
pub async fn serve_cognito_routes() -> Result<(), Error> {
    let app = cold_start().await?;
    let cognito = &app.config.cognito;
    let user_pool_id = cognito
        .user_pool_id
        .clone()
        .ok_or("AUTHKIT_COGNITO_USER_POOL_ID is required for the sign-up function")?;
    let tenant = cognito
        .tenant
        .as_deref()
        .ok_or("AUTHKIT_COGNITO_TENANT is required for the sign-up function")?;
    let tenant = authkit_domain::tenant::TenantId::parse(tenant)
        .map_err(|error| format!("AUTHKIT_COGNITO_TENANT `{tenant}`: {error}"))?;
    let directory = user_directory(&app).ok_or("the sign-up function needs AWS configuration")?;
    let pool = authkit_cognito::ServedPool {
        user_pool_id,
        tenant,
    };
    lambda_http::run(authkit_cognito::cognito_routes(
        app.authkit,
        directory,
        pool,
    ))
    .await
}

/// Serves a Cognito trigger whose handler needs AuthKit (create, verify).
pub async fn serve_trigger<E, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Serialize + Send + 'static,
    F: Fn(Arc<Triggers>, E) -> Fut,
    Fut: Future<Output = Result<E, authkit_cognito::TriggerError>>,
{
    let app = cold_start().await?;
    let tenant_id = app
        .config
        .cognito
        .tenant
        .clone()
        .ok_or("AUTHKIT_COGNITO_TENANT is required for Cognito triggers")?;
    let tenant = app
        .authkit
        .tenant(&tenant_id)
        .await
        .map_err(|error| format!("AUTHKIT_COGNITO_TENANT `{tenant_id}`: {error}"))?;
    let triggers = Arc::new(Triggers {
        directory: user_directory(&app),
        authkit: app.authkit,
        tenant,
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| {
        let triggers = triggers.clone();
        let handled = handler(triggers, event.payload);
        async move { handled.await.map_err(Error::from) }
    }))
    .await
}

/// Serves a Cognito trigger that needs no AuthKit state (define, pre-sign-up): no store,
/// keys or AWS clients are built, so its cold start is the runtime's alone.
pub async fn serve_pure_trigger<E>(
    handler: fn(&Config, E) -> Result<E, authkit_cognito::TriggerError>,
) -> Result<(), Error>
where
    E: DeserializeOwned + Serialize + Send + 'static,
{
    lambda_runtime::tracing::init_default_subscriber();
    let config = Arc::new(Config::from_env()?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| {
        let config = config.clone();
        async move { handler(&config, event.payload).map_err(Error::from) }
    }))
    .await
}
