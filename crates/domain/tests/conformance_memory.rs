//! The store behaviour suite against the embedded store.

#[tokio::test]
async fn the_embedded_store_passes_the_store_suite() {
    let stores = authkit_domain::memory::MemoryStore::new().into_stores();
    authkit_domain::conformance::check_all(&stores).await;
}
