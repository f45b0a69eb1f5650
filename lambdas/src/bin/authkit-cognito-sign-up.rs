//! `POST /v1/cognito/users`: create the Cognito user for a new identifier.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_cognito_sign_up().await
}
