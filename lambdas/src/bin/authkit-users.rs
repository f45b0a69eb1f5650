//! The `authkit-users` Lambda function: `authkit_api::user_routes` (the tenant's users,
//! exports, erasure and audit log, for its servers) behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_http(authkit_api::user_routes).await
}
