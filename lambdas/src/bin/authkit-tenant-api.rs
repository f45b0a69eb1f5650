//! The `authkit-tenant-api` Lambda function: `authkit_api::tenant_api_routes` (a tenant's
//! settings, API keys and members, with its secret key or a member's token) behind API
//! Gateway. It emails member invitations, so it builds a sender.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_sending_http(authkit_api::tenant_api_routes).await
}
