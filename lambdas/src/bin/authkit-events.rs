//! The `authkit-events` Lambda function: the events table's stream → the event consumers.

#[tokio::main]
async fn main() -> Result<(), authkit_lambdas::Error> {
    authkit_lambdas::serve_events().await
}
