//! The `authkit-admin` Lambda function: the operator API (`authkit_api::admin_routes`) on
//! its own API Gateway HTTP API with IAM authorization.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_admin().await
}
