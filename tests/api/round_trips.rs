//! The DynamoDB budget of the sign-in path (issue 12), measured on a warm app through the
//! round-trip meter (a proxy that delays every DynamoDB call, `authkit_tests::round_trips`):
//! sequential round trips and total calls per request, never times. Later checks on the
//! path (quotas, disabled users, denylists) must fit these or argue the exception in
//! docs/decisions.md.

use std::time::Duration;

use authkit_tests::round_trips::{measure_sign_in_paths, table, Meter};
use authkit_tests::{emulator_endpoint, Backend, TestApp};

/// (request, at most this many sequential round trips, exactly this many calls)
const BUDGETS: [(&str, usize, usize); 6] = [
    ("start (email code)", 3, 5),
    ("verify (code, first sign-in)", 3, 7),
    ("refresh", 2, 2),
    ("magic link: confirm", 3, 6),
    ("magic link: exchange", 3, 3),
    ("device sign-in", 2, 4),
];

#[tokio::test]
async fn the_sign_in_path_stays_within_its_dynamodb_round_trips() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let meter = Meter::start(&endpoint, Duration::from_millis(25)).await;
    let app = TestApp::spawn_with(Backend::Emulator, &[("AWS_ENDPOINT_URL", meter.url())]).await;
    let measured = measure_sign_in_paths(&app, &meter).await;
    let report = table(&measured);
    for (request, sequential, calls) in BUDGETS {
        let (_, trips) = measured
            .iter()
            .find(|(name, _)| *name == request)
            .unwrap_or_else(|| panic!("{request} was not measured"));
        assert!(
            trips.sequential <= sequential,
            "{request}: {} sequential round trips, budget {sequential}\n{report}",
            trips.sequential
        );
        assert_eq!(
            trips.calls, calls,
            "{request}: the number of DynamoDB calls changed\n{report}"
        );
    }
}
