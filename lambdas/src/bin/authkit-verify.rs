//! The `authkit-verify` Lambda function: `authkit_api::verify_routes` behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_http(authkit_api::verify_routes).await
}
