//! Cognito CreateAuthChallenge: send (or reuse) an AuthKit code or magic link.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_trigger(|triggers, event| async move {
        authkit_cognito::create_auth_challenge(&triggers, event).await
    })
    .await
}
