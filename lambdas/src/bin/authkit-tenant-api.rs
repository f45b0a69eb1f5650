//! The `authkit-tenant-api` Lambda function: `authkit_api::tenant_api_routes` (a tenant's
//! settings and API keys, with its secret key) behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_http(authkit_api::tenant_api_routes).await
}
