//! The `authkit-discovery` Lambda function: `authkit_api::discovery_routes` behind API
//! Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_discovery().await
}
