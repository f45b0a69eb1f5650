//! The `authkit-resend` Lambda function: `authkit_api::resend_routes` behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_sending_http(authkit_api::resend_routes).await
}
