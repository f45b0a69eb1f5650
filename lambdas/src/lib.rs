//! What every AuthKit Lambda binary does at cold start: JSON logs, configuration read once,
//! clients and key material built once, then the runtime loop. Each binary under `src/bin/`
//! only names the routes or trigger it serves.

mod error;

use std::future::Future;
use std::sync::Arc;

use authkit_app::{App, Config, DeliveryChoice};
use authkit_cognito::{CognitoDirectory, Triggers, UserDirectory};
use authkit_domain::{AuthError, AuthKit};
use lambda_runtime::{service_fn, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use error::initialize;
pub use error::FunctionError;

pub type Error = lambda_runtime::Error;

/// Builds the service once per cold start. Lambda functions never deliver to the dev
/// outbox, whatever features the build unified.
async fn cold_start() -> Result<App, FunctionError> {
    let config = Config::from_env()?;
    if matches!(config.delivery, DeliveryChoice::Outbox { .. }) {
        return Err(FunctionError::configuration(
            "AUTHKIT_DELIVERY must be `aws` in a Lambda function",
        ));
    }
    Ok(App::build(config).await?)
}

/// Serves one group of HTTP routes behind API Gateway (HTTP API, payload v2).
pub async fn serve_http(routes: fn(Arc<AuthKit>) -> axum::Router) -> Result<(), Error> {
    let app = initialize(cold_start()).await?;
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

/// Serves `POST /v1/cognito/users` (sign-up on first sign-in).
pub async fn serve_cognito_sign_up() -> Result<(), Error> {
    let (app, pool, directory) = initialize(async {
        let app = cold_start().await?;
        let pool = app.config.cognito.user_pool_id.clone().ok_or_else(|| {
            FunctionError::configuration(
                "AUTHKIT_COGNITO_USER_POOL_ID is required for the sign-up function",
            )
        })?;
        let directory = user_directory(&app).ok_or_else(|| {
            FunctionError::configuration("the sign-up function needs AWS configuration")
        })?;
        Ok((app, pool, directory))
    })
    .await?;
    lambda_http::run(authkit_cognito::sign_up_routes(
        app.authkit,
        directory,
        &pool,
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
    let triggers = Arc::new(initialize(triggers()).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handled = parse_event(event.payload).map(|event| handler(triggers.clone(), event));
        async move { Ok::<E, FunctionError>(handled?.await?) }
    }))
    .await
}

async fn triggers() -> Result<Triggers, FunctionError> {
    let app = cold_start().await?;
    let tenant_id = app.config.cognito.tenant.clone().ok_or_else(|| {
        FunctionError::configuration("AUTHKIT_COGNITO_TENANT is required for Cognito triggers")
    })?;
    let tenant = app.authkit.tenant(&tenant_id).await.map_err(|error| {
        let error_type = match error {
            AuthError::Unavailable(_) => "Store",
            _ => "Configuration",
        };
        FunctionError::with_causes(error_type, &error)
            .context(format_args!("AUTHKIT_COGNITO_TENANT `{tenant_id}`"))
    })?;
    Ok(Triggers {
        directory: user_directory(&app),
        authkit: app.authkit,
        tenant,
    })
}

/// Serves a Cognito trigger that needs no AuthKit state (define, pre-sign-up): no store,
/// keys or AWS clients are built, so its cold start is the runtime's alone.
pub async fn serve_pure_trigger<E>(handler: fn(&Config, E) -> E) -> Result<(), Error>
where
    E: DeserializeOwned + Serialize + Send + 'static,
{
    let config = Arc::new(initialize(async { Ok(Config::from_env()?) }).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let config = config.clone();
        async move { Ok::<E, FunctionError>(handler(&config, parse_event(event.payload)?)) }
    }))
    .await
}

/// The trigger's event, or an `InvalidEvent` naming where it went wrong. The runtime's own
/// parse error reports a Rust type path and no stable type.
fn parse_event<E: DeserializeOwned>(payload: Value) -> Result<E, FunctionError> {
    serde_path_to_error::deserialize(payload).map_err(FunctionError::invalid_event::<E>)
}
