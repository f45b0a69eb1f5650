//! The emulator the DynamoDB tests run against: AUTHKIT_TEST_ENDPOINT (moto, started by
//! scripts/test.sh, or LocalStack), or none when the emulator half is skipped.

pub async fn client() -> Option<aws_sdk_dynamodb::Client> {
    let endpoint = match std::env::var("AUTHKIT_TEST_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ if std::env::var("AUTHKIT_REQUIRE_EMULATOR").as_deref() == Ok("1") => {
            panic!("AUTHKIT_TEST_ENDPOINT is not set")
        }
        _ => {
            eprintln!("SKIPPING DynamoDB conformance: AUTHKIT_TEST_ENDPOINT is not set (bash scripts/test.sh sets it)");
            return None;
        }
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    Some(aws_sdk_dynamodb::Client::new(&sdk))
}
