//! Cognito PreSignUp: refuse public sign-up; confirm users AuthKit's route creates, verify
//! no contact until a code proves it.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_pure_trigger(|_, event| authkit_cognito::pre_sign_up(event)).await
}
