//! The fault-injection suite (issue 12): sign-ins through AuthKit while a proxy between it
//! and the emulator throttles, fails, resets and stalls DynamoDB, SES and SNS calls
//! (`authkit_tests::fault_proxy`). Then the faults stop and every unfinished sign-in is
//! retried the way a client would. Checked from outside, over HTTP and in the tables:
//!
//! 1. every response is a success or a typed problem a client can act on (`503
//!    unavailable`, `503 delivery_failed`), never a 500, an untyped error or no answer;
//! 2. every 503 says when to retry (`Retry-After`);
//! 3. a sign-in answered 503 completes when retried after the faults stop (a verify is
//!    retried with the same code: the code was not spent without a session);
//! 4. a failed delivery names its challenge, which can be resent and then answered;
//! 5. no challenge in the table is verified without a session for its user;
//! 6. every challenge has exactly one started event, every verified challenge exactly one
//!    verified event, every session exactly one opened event (in the events table, where
//!    each is written with its change);
//! 7. the events table's stream, fed to the audit consumer as Lambda would (batches,
//!    partial batch responses) while its writes are faulted, leaves every event in the
//!    audit log exactly once.
//!
//! Run by scripts/test.sh (a short run) and bench/faults.sh (a long one). Settings, from
//! the environment: AUTHKIT_FAULT_SIGN_INS (150), AUTHKIT_FAULT_CONCURRENCY (8),
//! AUTHKIT_FAULT_DYNAMODB_RATE (0.3), AUTHKIT_FAULT_DELIVERY_RATE (0.35),
//! AUTHKIT_FAULT_PIPELINE_RATE (0.3, DynamoDB while the events go to the audit log),
//! AUTHKIT_FAULT_KINDS (all; comma-separated names from `Fault::as_str`),
//! AUTHKIT_FAULT_SEED (12), AUTHKIT_FAULT_DEADLINE_SECS (240).

mod journey;
mod pipeline;
mod store_checks;

use std::time::{Duration, Instant};

use authkit_domain::rate_limit::Scope;
use authkit_domain::tenant::TenantPolicy;
use authkit_tests::fault_proxy::{Fault, FaultPlan, FaultProxy};
use authkit_tests::{emulator_endpoint, Backend, TestApp};
use futures::StreamExt;

use journey::{Journey, Ledger};

struct Settings {
    sign_ins: usize,
    /// The DynamoDB fault rate while the events are fed to the audit consumer.
    pipeline_rate: f64,
    concurrency: usize,
    plan: FaultPlan,
    deadline: Duration,
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}: `{raw}` is not a valid value")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let kinds = match std::env::var("AUTHKIT_FAULT_KINDS") {
            Ok(raw) => raw
                .split(',')
                .map(|name| {
                    Fault::parse(name.trim())
                        .unwrap_or_else(|| panic!("AUTHKIT_FAULT_KINDS: no fault `{name}`"))
                })
                .collect(),
            Err(_) => FaultPlan::all_kinds(),
        };
        Settings {
            sign_ins: setting("AUTHKIT_FAULT_SIGN_INS", 150),
            pipeline_rate: setting("AUTHKIT_FAULT_PIPELINE_RATE", 0.3),
            concurrency: setting("AUTHKIT_FAULT_CONCURRENCY", 8),
            plan: FaultPlan {
                dynamodb_rate: setting("AUTHKIT_FAULT_DYNAMODB_RATE", 0.3),
                delivery_rate: setting("AUTHKIT_FAULT_DELIVERY_RATE", 0.35),
                kinds,
                hold: HOLD,
                seed: setting("AUTHKIT_FAULT_SEED", 12),
            },
            deadline: Duration::from_secs(setting("AUTHKIT_FAULT_DEADLINE_SECS", 240)),
        }
    }
}

/// The app's AWS attempt timeout here, and how long a `timeout` fault holds a request:
/// long enough that the client gives up first.
const ATTEMPT_TIMEOUT_MS: &str = "500";
const OPERATION_TIMEOUT_MS: &str = "3000";
const HOLD: Duration = Duration::from_millis(1_000);

/// The default policy with the shared limits out of the way: every sign-in comes from one
/// loopback address and the SMS ones from one prefix, which would trip them; the
/// identifier's own limits stay as they are and every counter is still written.
fn policy() -> TenantPolicy {
    let mut policy = TenantPolicy {
        resend_cooldown_secs: 2,
        ..TenantPolicy::default()
    };
    let limits = policy.rate_limits.start.iter_mut();
    for limit in limits.chain(policy.rate_limits.verify.iter_mut()) {
        if limit.scope != Scope::Identifier {
            limit.max = 1_000_000;
        }
    }
    policy
}

/// A run whose faults never hit a transaction (a verify's sign-in, a resend, a failed
/// delivery) would prove nothing about the paths that write a change and its events
/// together.
fn transactions_faulted(proxy: &FaultProxy) -> Vec<String> {
    let report = proxy.report();
    let faulted = report.dynamodb_faults.get("TransactWriteItems");
    match faulted {
        Some(n) if *n > 0 => Vec::new(),
        _ => vec![format!(
            "no TransactWriteItems was faulted (operations: {:?})",
            report.dynamodb_operations
        )],
    }
}

/// A named check and what broke it, if anything.
struct Check {
    name: &'static str,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_survive_injected_faults() {
    let Some(endpoint) = emulator_endpoint() else {
        return;
    };
    let settings = Settings::from_env();
    let proxy = FaultProxy::start(&endpoint, settings.plan.clone()).await;
    let app = TestApp::spawn_with_policy(
        Backend::Emulator,
        &[
            ("AWS_ENDPOINT_URL", &proxy.url),
            ("AUTHKIT_AWS_ATTEMPT_TIMEOUT_MS", ATTEMPT_TIMEOUT_MS),
            ("AUTHKIT_AWS_OPERATION_TIMEOUT_MS", OPERATION_TIMEOUT_MS),
        ],
        policy(),
    )
    .await;
    let ledger = Ledger::default();
    let run = format!("{:x}", std::process::id());
    let journeys: Vec<Journey> = (0..settings.sign_ins)
        .map(|i| Journey::new(i, &run))
        .collect();

    let started = Instant::now();
    proxy.set_faults(true);
    let deadline = started + settings.deadline;
    let journeys: Vec<Journey> = futures::stream::iter(journeys)
        .map(|mut journey| {
            let (app, proxy, ledger) = (&app, &proxy, &ledger);
            async move {
                if Instant::now() < deadline {
                    journey.under_faults(app, proxy, ledger).await;
                }
                journey
            }
        })
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    let under_faults = started.elapsed();
    proxy.set_faults(false);

    let journeys: Vec<Journey> = futures::stream::iter(journeys)
        .map(|mut journey| {
            let (app, proxy, ledger) = (&app, &proxy, &ledger);
            async move {
                journey.recover(app, proxy, ledger).await;
                journey
            }
        })
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    let attempted = journeys.iter().filter(|j| j.attempted()).count();

    let mut checks = vec![
        Check {
            name: "every sign-in was attempted within the time bound",
            failures: (attempted < settings.sign_ins)
                .then(|| {
                    format!(
                        "{attempted} of {} attempted in {:?}",
                        settings.sign_ins, settings.deadline
                    )
                })
                .into_iter()
                .collect(),
        },
        Check {
            name: "1. every response is a success or a typed, retryable problem",
            failures: ledger.untyped(),
        },
        Check {
            name: "2. every 503 carries Retry-After",
            failures: ledger.unavailable_without_retry_after(),
        },
        Check {
            name: "3. a sign-in answered 503 completes when retried after the faults stop",
            failures: journey::stuck_after_unavailable(&journeys),
        },
        Check {
            name: "4. a failed delivery names its challenge, which can be resent and answered",
            failures: journey::stuck_after_delivery_failure(&journeys),
        },
    ];
    checks.push(Check {
        name: "the transactional write path was faulted (TransactWriteItems)",
        failures: transactions_faulted(&proxy),
    });
    let store = store_checks::read(&app, &endpoint).await;
    checks.push(Check {
        name: "5. no challenge is verified without a session for its user",
        failures: store.verified_without_session(),
    });
    checks.push(Check {
        name: "6. every state change has exactly one event (started, verified, session)",
        failures: store.event_failures(),
    });
    proxy.set_dynamodb_rate(settings.pipeline_rate);
    proxy.set_faults(true);
    let delivery = pipeline::deliver(&app, &endpoint, &proxy).await;
    proxy.set_faults(false);
    checks.push(Check {
        name: "7. every event reaches the audit log exactly once through faulted consumer writes",
        failures: pipeline::audit_failures(&app, &endpoint, &delivery).await,
    });

    println!("\n=== fault suite: {} sign-ins ===", settings.sign_ins);
    println!(
        "under faults: {attempted} attempted in {:.1} s; rates dynamodb {} delivery {}; seed {}",
        under_faults.as_secs_f64(),
        settings.plan.dynamodb_rate,
        settings.plan.delivery_rate,
        settings.plan.seed
    );
    let report = proxy.report();
    println!("faults injected:");
    for ((service, fault), count) in &report.injected {
        println!("  {:<9} {:<20} {count}", service.as_str(), fault.as_str());
    }
    println!("requests forwarded:");
    for (service, count) in &report.forwarded {
        println!("  {:<9} {count}", service.as_str());
    }
    println!("DynamoDB requests by operation (of them faulted):");
    for (operation, count) in &report.dynamodb_operations {
        let faulted = report.dynamodb_faults.get(operation).copied().unwrap_or(0);
        println!("  {operation:<20} {count} ({faulted})");
    }
    println!(
        "  forwarded answers slower than {HOLD:?} (client may have timed out): {}",
        report.slow
    );
    println!("responses (phase, step, status, code):");
    for (key, count) in ledger.outcomes() {
        println!("  {key:<52} {count}");
    }
    println!(
        "sign-ins completed: {} of {attempted}; {}",
        journeys.iter().filter(|j| j.signed_in()).count(),
        store.summary()
    );
    println!(
        "event pipeline under faults (dynamodb rate {}): {}",
        settings.pipeline_rate,
        delivery.summary()
    );
    println!("checks:");
    for check in &checks {
        let verdict = if check.failures.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        println!("  {verdict} {}", check.name);
        for failure in check.failures.iter().take(8) {
            println!("       {failure}");
        }
        if check.failures.len() > 8 {
            println!("       … and {} more", check.failures.len() - 8);
        }
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.failures.is_empty())
        .map(|c| c.name)
        .collect();
    assert!(
        failed.is_empty(),
        "fault suite checks failed (details above):\n  {}",
        failed.join("\n  ")
    );
}
