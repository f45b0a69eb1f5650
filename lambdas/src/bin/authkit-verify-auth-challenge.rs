//! Cognito VerifyAuthChallengeResponse: judge the answer with the store's atomic verify.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_trigger_without_delivery(|triggers, event| async move {
        authkit_cognito::verify_auth_challenge(&triggers, event).await
    })
    .await
}
