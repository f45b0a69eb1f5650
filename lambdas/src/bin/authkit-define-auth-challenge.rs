//! Cognito DefineAuthChallenge: the CUSTOM_AUTH state machine.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_pure_trigger(|config, event| {
        Ok(authkit_cognito::define_auth_challenge(
            config.cognito.max_attempts,
            event,
        ))
    })
    .await
}
