//! AuthKit's routes for the Cognito user pool: `POST /v1/cognito/users` (sign-up),
//! `POST /v1/cognito/contacts` and `/v1/cognito/contacts/verify` (add a proven contact).

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_cognito_routes().await
}
