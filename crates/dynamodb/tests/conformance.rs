//! The store behaviour suite against DynamoDB in the emulator at AUTHKIT_TEST_ENDPOINT
//! (moto, started by scripts/test.sh, or LocalStack), in freshly created tables.

mod emulator;

use authkit_dynamodb::{create_tables, dynamodb_stores, TableNames};
use emulator::client;

#[tokio::test]
async fn dynamodb_passes_the_store_suite() {
    let Some(client) = client().await else { return };
    let prefix = format!("conformance{}-", std::process::id());
    let tables = TableNames::with_prefix(&prefix);
    create_tables(&client, &tables)
        .await
        .expect("tables created");
    create_tables(&client, &tables)
        .await
        .expect("creating existing tables is a no-op");
    authkit_domain::conformance::check_all(&dynamodb_stores(client, tables)).await;
}
