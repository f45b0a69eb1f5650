//! What every AuthKit Lambda binary does at cold start: JSON logs, configuration read once,
//! clients and key material built once, then the runtime loop. Each binary under `src/bin/`
//! only names the routes or trigger it serves.

mod error;
mod logging;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use authkit_api::{IamCaller, OperatorAuth, PeerAddr, PlatformRequestId};
use authkit_app::{App, Config, DeliveryChoice};
use authkit_cognito::{CognitoDirectory, Triggers, UserDirectory};
use authkit_domain::tenant::TenantId;
use authkit_domain::{AuthError, AuthKit};
use authkit_dynamodb::stream::{BatchResponse, StreamBatch};
use lambda_http::request::RequestContext;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use error::initialize;
pub use error::FunctionError;

pub type Error = lambda_runtime::Error;

/// Builds the service once per cold start, with its sender (start, resend, Cognito's
/// create-auth-challenge and sign-up routes; the tenant and operator APIs, which email
/// member invitations). Lambda functions never deliver to the dev outbox, whatever
/// features the build unified.
async fn cold_start() -> Result<App, FunctionError> {
    Ok(App::build(lambda_config()?).await?)
}

/// The service of a function that never sends: no SNS or SES client is built or linked.
async fn cold_start_without_delivery() -> Result<App, FunctionError> {
    Ok(App::build_without_delivery(lambda_config()?).await?)
}

fn lambda_config() -> Result<Config, FunctionError> {
    let config = Config::from_env()?;
    if matches!(config.delivery, DeliveryChoice::Outbox { .. }) {
        return Err(FunctionError::configuration(
            "AUTHKIT_DELIVERY must be `aws` in a Lambda function",
        ));
    }
    Ok(config)
}

/// Serves one group of HTTP routes that send (challenges: start, resend; invitations:
/// the tenant API) behind API Gateway (HTTP API, payload v2).
pub async fn serve_sending_http(routes: fn(Arc<AuthKit>) -> axum::Router) -> Result<(), Error> {
    let app = initialize(cold_start()).await?;
    lambda_http::run(behind_edge(routes(app.authkit.clone()), &app.config)).await
}

/// Serves one group of HTTP routes that never send (verify, token, devices, users)
/// behind API Gateway.
pub async fn serve_http(routes: fn(Arc<AuthKit>) -> axum::Router) -> Result<(), Error> {
    let app = initialize(cold_start_without_delivery()).await?;
    lambda_http::run(behind_edge(routes(app.authkit.clone()), &app.config)).await
}

/// Serves `/health`, `/live` and `/ready`: built from configuration and the store alone,
/// so the function reads no key material and links no delivery client.
pub async fn serve_health() -> Result<(), Error> {
    let (config, probe) = initialize(async {
        let config = Config::from_env()?;
        let probe = authkit_app::readiness_probe(&config).await?;
        Ok((config, probe))
    })
    .await?;
    lambda_http::run(behind_edge(authkit_api::health_routes(probe), &config)).await
}

/// Serves JWKS, OpenID discovery and the OpenAPI document from the signing keys alone:
/// the function never reads the pepper.
pub async fn serve_discovery() -> Result<(), Error> {
    let (config, published) = initialize(async {
        let config = Config::from_env()?;
        let published = authkit_app::published_keys(&config).await?;
        Ok((config, published))
    })
    .await?;
    let routes = authkit_api::discovery_routes(Arc::new(published));
    lambda_http::run(behind_edge(routes, &config)).await
}

/// Serves the operator API. It sits on its own HTTP API with IAM authorization, not behind
/// the public front: the caller is the IAM principal API Gateway authenticated, taken from
/// the event's request context (never from a header), and no origin secret applies.
pub async fn serve_admin() -> Result<(), Error> {
    let app = initialize(cold_start()).await?;
    let routes = authkit_api::admin_routes(app.authkit.clone(), OperatorAuth::Iam)
        .layer(axum::middleware::map_request(with_iam_caller))
        .layer(axum::middleware::map_request(with_platform_context));
    lambda_http::run(routes).await
}

async fn with_iam_caller(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(caller) = iam_caller(&request) {
        request.extensions_mut().insert(caller);
    }
    request
}

/// `requestContext.authorizer.iam.userArn` of an HTTP API request authorized by IAM.
fn iam_caller(request: &axum::extract::Request) -> Option<IamCaller> {
    let RequestContext::ApiGatewayV2(context) = request.extensions().get::<RequestContext>()?
    else {
        return None;
    };
    let arn = context
        .authorizer
        .as_ref()?
        .iam
        .as_ref()?
        .user_arn
        .clone()?;
    Some(IamCaller { arn })
}

/// Routes behind the deployment's edge (origin secret, client address), with the caller's
/// address and the request id taken from the event's request context: never from a
/// header a client can set.
fn behind_edge(routes: axum::Router, config: &Config) -> axum::Router {
    authkit_api::with_edge(routes, config.edge.clone())
        .layer(axum::middleware::map_request(with_platform_context))
}

async fn with_platform_context(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(ip) = peer_address(&request) {
        request.extensions_mut().insert(PeerAddr(ip));
    }
    if let Some(id) = platform_request_id(&request) {
        request.extensions_mut().insert(PlatformRequestId(id));
    }
    request
}

/// API Gateway's id for the request (an ALB gives none; the log line then makes one).
fn platform_request_id(request: &axum::extract::Request) -> Option<String> {
    match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
        RequestContext::ApiGatewayV1(context) => context.request_id.clone(),
        _ => None,
    }
}

/// The address API Gateway saw the request come from, or the one an ALB appended as the
/// last `X-Forwarded-For` entry (entries before it are whatever the client sent).
fn peer_address(request: &axum::extract::Request) -> Option<IpAddr> {
    let raw = match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.clone(),
        RequestContext::Alb(_) => request
            .headers()
            .get("x-forwarded-for")?
            .to_str()
            .ok()?
            .rsplit(',')
            .next()
            .map(|last| last.trim().to_owned()),
        _ => None,
    };
    raw?.parse().ok()
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
    let (app, directory, pool) = initialize(async {
        let app = cold_start().await?;
        let cognito = &app.config.cognito;
        let user_pool_id = cognito.user_pool_id.clone().ok_or_else(|| {
            FunctionError::configuration(
                "AUTHKIT_COGNITO_USER_POOL_ID is required for the sign-up function",
            )
        })?;
        let tenant = cognito.tenant.as_deref().ok_or_else(|| {
            FunctionError::configuration(
                "AUTHKIT_COGNITO_TENANT is required for the sign-up function",
            )
        })?;
        let tenant = authkit_domain::tenant::TenantId::parse(tenant).map_err(|error| {
            FunctionError::configuration(format!("AUTHKIT_COGNITO_TENANT `{tenant}`: {error}"))
        })?;
        let directory = user_directory(&app).ok_or_else(|| {
            FunctionError::configuration("the sign-up function needs AWS configuration")
        })?;
        let pool = authkit_cognito::ServedPool {
            user_pool_id,
            tenant,
        };
        Ok((app, directory, pool))
    })
    .await?;
    let routes = authkit_cognito::cognito_routes(app.authkit.clone(), directory, pool);
    lambda_http::run(behind_edge(routes, &app.config)).await
}

/// Serves a Cognito trigger whose handler needs AuthKit (create, verify). Init builds the
/// service; the tenant is read at the first invocation and then comes from the service's
/// tenant cache (`AUTHKIT_TENANT_CACHE_SECS`), so the cold start pays no DynamoDB read and
/// a policy change reaches warm functions within that bound (decision 83).
/// This one sends (create-auth-challenge).
pub async fn serve_trigger<E, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Serialize + Send + 'static,
    F: Fn(Arc<Triggers>, E) -> Fut + Clone,
    Fut: Future<Output = Result<E, authkit_cognito::TriggerError>>,
{
    serve_trigger_of(cold_start(), handler).await
}

/// [`serve_trigger`] for a trigger that never sends (verify-auth-challenge).
pub async fn serve_trigger_without_delivery<E, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Serialize + Send + 'static,
    F: Fn(Arc<Triggers>, E) -> Fut + Clone,
    Fut: Future<Output = Result<E, authkit_cognito::TriggerError>>,
{
    serve_trigger_of(cold_start_without_delivery(), handler).await
}

async fn serve_trigger_of<E, F, Fut>(
    service: impl Future<Output = Result<App, FunctionError>>,
    handler: F,
) -> Result<(), Error>
where
    E: DeserializeOwned + Serialize + Send + 'static,
    F: Fn(Arc<Triggers>, E) -> Fut + Clone,
    Fut: Future<Output = Result<E, authkit_cognito::TriggerError>>,
{
    let source = Arc::new(initialize(trigger_source(service)).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (source, handler) = (source.clone(), handler.clone());
        async move {
            let event = parse_event(event.payload)?;
            let triggers = source.triggers().await?;
            Ok::<E, FunctionError>(handler(triggers, event).await?)
        }
    }))
    .await
}

/// The service, built at init, and the Cognito tenant it serves, read when needed.
struct TriggerSource {
    app: App,
    directory: Option<Arc<dyn UserDirectory>>,
    tenant_id: TenantId,
}

async fn trigger_source(
    service: impl Future<Output = Result<App, FunctionError>>,
) -> Result<TriggerSource, FunctionError> {
    let app = service.await?;
    let tenant_id = app.config.cognito.tenant.as_deref().ok_or_else(|| {
        FunctionError::configuration("AUTHKIT_COGNITO_TENANT is required for Cognito triggers")
    })?;
    let tenant_id = TenantId::parse(tenant_id).map_err(|error| {
        FunctionError::configuration(format!("AUTHKIT_COGNITO_TENANT `{tenant_id}`: {error}"))
    })?;
    Ok(TriggerSource {
        directory: user_directory(&app),
        app,
        tenant_id,
    })
}

impl TriggerSource {
    /// The triggers with the tenant as the service's cache holds it (read from the store
    /// when the cache has none younger than its bound). A tenant that does not exist is
    /// this function's configuration error; a store that fails is a `Store` error.
    async fn triggers(&self) -> Result<Arc<Triggers>, FunctionError> {
        let tenant = self
            .app
            .authkit
            .tenant(self.tenant_id.as_str())
            .await
            .map_err(|error| {
                let error_type = match error {
                    AuthError::Unavailable(_) => "Store",
                    _ => "Configuration",
                };
                FunctionError::with_causes(error_type, &error)
                    .context(format_args!("AUTHKIT_COGNITO_TENANT `{}`", self.tenant_id))
            })?;
        Ok(Arc::new(Triggers {
            directory: self.directory.clone(),
            authkit: self.app.authkit.clone(),
            tenant,
        }))
    }
}

/// Serves the events table's stream (DynamoDB Streams → Lambda): each batch goes to the
/// event consumers (the audit log), and the answer names the first record to deliver again
/// when a consumer failed (Lambda's partial batch response); Lambda retries, splits the
/// batch and finally sends it to the dead-letter queue (infra/modules/events).
pub async fn serve_events() -> Result<(), Error> {
    let pipeline = Arc::new(
        initialize(async {
            let config = Config::from_env()?;
            Ok(authkit_app::event_pipeline(&config).await?)
        })
        .await?,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pipeline = pipeline.clone();
        async move {
            let batch: StreamBatch = parse_event(event.payload)?;
            Ok::<BatchResponse, FunctionError>(
                authkit_dynamodb::stream::handle(&pipeline, &batch).await,
            )
        }
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
    let config = Arc::new(initialize(async { Ok(Config::from_env()?) }).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let config = config.clone();
        async move { Ok::<E, FunctionError>(handler(&config, parse_event(event.payload)?)?) }
    }))
    .await
}

/// The trigger's event, or an `InvalidEvent` naming where it went wrong. The runtime's own
/// parse error reports a Rust type path and no stable type.
fn parse_event<E: DeserializeOwned>(payload: Value) -> Result<E, FunctionError> {
    serde_path_to_error::deserialize(payload).map_err(FunctionError::invalid_event::<E>)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(fixture: &str) -> axum::extract::Request {
        let raw = std::fs::read_to_string(format!(
            "{}/../tests/fixtures/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("the fixture exists");
        let request = lambda_http::request::from_str(&raw).expect("an event lambda_http reads");
        request.map(|body| axum::body::Body::from(body.to_vec()))
    }

    #[test]
    fn the_peer_is_api_gateways_source_ip_never_a_forwarded_header() {
        let mut http_api = event("example-apigw-v2-request-no-authorizer.json");
        http_api
            .headers_mut()
            .insert("x-forwarded-for", "203.0.113.66".parse().unwrap());
        assert_eq!(
            peer_address(&http_api),
            Some("1.2.3.4".parse().unwrap()),
            "HTTP API (payload v2): requestContext.http.sourceIp"
        );
        let rest = event("example-apigw-request.json");
        assert_eq!(
            peer_address(&rest),
            Some("192.168.196.186".parse().unwrap()),
            "REST API: requestContext.identity.sourceIp"
        );
    }

    #[test]
    fn the_operator_is_the_principal_api_gateway_authenticated_with_iam() {
        let signed = event("example-apigw-v2-request-iam.json");
        assert_eq!(
            iam_caller(&signed),
            Some(IamCaller {
                arn: "arn:aws:sts::123456789012:assumed-role/authkit-operators/ops".into()
            })
        );
        let unsigned = event("example-apigw-v2-request-no-authorizer.json");
        assert_eq!(
            iam_caller(&unsigned),
            None,
            "no IAM authorizer, no operator"
        );
    }

    #[test]
    fn the_request_id_is_api_gateways_never_a_client_header() {
        for (fixture, expected) in [
            (
                "example-apigw-v2-request-no-authorizer.json",
                "LV7fzho-PHcEJPw=",
            ),
            (
                "example-apigw-request.json",
                "deef4878-7910-11e6-8f14-25afc3e9ae33",
            ),
        ] {
            let mut request = event(fixture);
            request
                .headers_mut()
                .insert("x-amzn-requestid", "spoofed".parse().unwrap());
            request
                .headers_mut()
                .insert("x-request-id", "spoofed".parse().unwrap());
            assert_eq!(
                platform_request_id(&request).as_deref(),
                Some(expected),
                "{fixture}"
            );
        }
    }

    #[test]
    fn behind_an_alb_the_peer_is_the_last_forwarded_entry() {
        let mut alb = event("example-alb-lambda-target-request-headers-only.json");
        alb.headers_mut().insert(
            "x-forwarded-for",
            "203.0.113.66, 198.51.100.20".parse().unwrap(),
        );
        assert_eq!(peer_address(&alb), Some("198.51.100.20".parse().unwrap()));
    }
}
