//! The `authkit-health` Lambda function: `authkit_api::health_routes` behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_health().await
}
