//! Prints how many DynamoDB calls, sequential round trips and capacity units each sign-in
//! request costs, measured through the round-trip meter (`authkit_tests::round_trips`)
//! against the emulator at AUTHKIT_TEST_ENDPOINT. `bench/round_trips.sh` runs it.

use std::time::Duration;

use authkit_tests::round_trips::{measure_sign_in_paths, table, Meter};
use authkit_tests::{Backend, TestApp};

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("AUTHKIT_TEST_ENDPOINT")
        .expect("AUTHKIT_TEST_ENDPOINT names the emulator (bench/round_trips.sh sets it)");
    let delay: u64 = std::env::var("ROUND_TRIP_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(30);
    let meter = Meter::start(&endpoint, Duration::from_millis(delay)).await;
    let app = TestApp::spawn_with(Backend::Emulator, &[("AWS_ENDPOINT_URL", meter.url())]).await;
    let measured = measure_sign_in_paths(&app, &meter).await;
    println!("{}", table(&measured));
}
