//! The `authkit-start` Lambda function: `authkit_api::start_routes` behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_sending_http(authkit_api::start_routes).await
}
