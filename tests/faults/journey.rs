//! One sign-in as a client drives it (start, verify; resend after a failed delivery), and
//! the ledger of every answer AuthKit gave.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use authkit_tests::fault_proxy::FaultProxy;
use authkit_tests::TestApp;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Faults,
    Recovery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Start,
    Resend,
    Verify,
}

impl Step {
    fn path(self) -> &'static str {
        match self {
            Step::Start => "/v1/auth/start",
            Step::Resend => "/v1/auth/resend",
            Step::Verify => "/v1/auth/verify",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Step::Start => "start",
            Step::Resend => "resend",
            Step::Verify => "verify",
        }
    }
}

/// What AuthKit answered to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// None when no HTTP answer came at all (connection closed, or nothing in 30 s).
    status: Option<u16>,
    /// The problem `code`, when the body is problem JSON.
    code: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    fn label(&self) -> String {
        match (self.status, &self.code) {
            (None, _) => "no answer".to_owned(),
            (Some(status), Some(code)) => format!("{status} {code}"),
            (Some(status), None) => status.to_string(),
        }
    }
}

struct Exchange {
    phase: Phase,
    step: Step,
    answer: Answer,
}

/// Every answer of the run.
#[derive(Default)]
pub struct Ledger(Mutex<Vec<Exchange>>);

/// The problems a client is told to act on under faults: retry later, or resend.
const RETRYABLE: [(u16, &str); 3] = [
    (503, "unavailable"),
    (503, "delivery_failed"),
    (429, "resend_too_soon"),
];

impl Ledger {
    fn record(&self, phase: Phase, step: Step, answer: &Answer) {
        self.0.lock().expect("ledger lock").push(Exchange {
            phase,
            step,
            answer: answer.clone(),
        });
    }

    /// Answers that are neither a success nor a typed, retryable problem, counted by kind.
    pub fn untyped(&self) -> Vec<String> {
        self.count(|exchange| {
            let answer = &exchange.answer;
            let typed = match (answer.status, answer.code.as_deref()) {
                (Some(200), _) => true,
                (Some(status), Some(code)) => RETRYABLE.contains(&(status, code)),
                _ => false,
            };
            (!typed).then(|| format!("{} {}", exchange.step.as_str(), answer.label()))
        })
    }

    pub fn unavailable_without_retry_after(&self) -> Vec<String> {
        self.count(|exchange| {
            (exchange.answer.status == Some(503) && exchange.answer.retry_after.is_none())
                .then(|| format!("{} 503 without Retry-After", exchange.step.as_str()))
        })
    }

    /// Every answer by phase, step, status and code.
    pub fn outcomes(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for exchange in self.0.lock().expect("ledger lock").iter() {
            let phase = match exchange.phase {
                Phase::Faults => "under faults",
                Phase::Recovery => "after faults",
            };
            let key = format!(
                "{phase:<13} {:<7} {}",
                exchange.step.as_str(),
                exchange.answer.label()
            );
            *counts.entry(key).or_default() += 1;
        }
        counts
    }

    fn count(&self, kind: impl Fn(&Exchange) -> Option<String>) -> Vec<String> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for exchange in self.0.lock().expect("ledger lock").iter() {
            if let Some(kind) = kind(exchange) {
                *counts.entry(kind).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(kind, count)| format!("{kind}: {count}×"))
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Next {
    Start,
    Resend { challenge: String },
    Verify { challenge: String, code: String },
    SignedIn,
    Stuck(String),
}

pub struct Journey {
    identifier: String,
    next: Next,
    attempted: bool,
    had_unavailable: bool,
    had_delivery_failure: bool,
    history: Vec<String>,
}

impl Journey {
    /// Every fifth sign-in goes by SMS (SNS), the rest by email (SES).
    pub fn new(index: usize, run: &str) -> Journey {
        let identifier = if index % 5 == 4 {
            format!("+1415{}", 3_000_000 + index)
        } else {
            format!("fault{index}-{run}@example.com")
        };
        Journey {
            identifier,
            next: Next::Start,
            attempted: false,
            had_unavailable: false,
            had_delivery_failure: false,
            history: Vec::new(),
        }
    }

    pub fn attempted(&self) -> bool {
        self.attempted
    }

    pub fn signed_in(&self) -> bool {
        matches!(self.next, Next::SignedIn)
    }

    /// Start and verify once each, with no retries, while the faults are on.
    pub async fn under_faults(&mut self, app: &TestApp, proxy: &FaultProxy, ledger: &Ledger) {
        self.attempted = true;
        while self.advance(app, proxy, ledger, Phase::Faults).await {}
    }

    /// After the faults stop: retry what failed, as a client would, a few steps at most.
    pub async fn recover(&mut self, app: &TestApp, proxy: &FaultProxy, ledger: &Ledger) {
        if !self.attempted {
            return;
        }
        self.history.push("| faults off |".to_owned());
        for _ in 0..6 {
            if matches!(self.next, Next::SignedIn | Next::Stuck(_)) {
                return;
            }
            self.advance(app, proxy, ledger, Phase::Recovery).await;
        }
        if !self.signed_in() {
            self.next = Next::Stuck("not signed in after 6 steps".to_owned());
        }
    }

    /// One request; true when it moved the sign-in forward.
    async fn advance(
        &mut self,
        app: &TestApp,
        proxy: &FaultProxy,
        ledger: &Ledger,
        phase: Phase,
    ) -> bool {
        let (step, body) = match &self.next {
            Next::Start => (Step::Start, json!({"identifier": self.identifier})),
            Next::Resend { challenge } => (Step::Resend, json!({"challenge_id": challenge})),
            Next::Verify { challenge, code } => (
                Step::Verify,
                json!({"challenge_id": challenge, "code": code}),
            ),
            Next::SignedIn | Next::Stuck(_) => return false,
        };
        let answer = send(app, step, body).await;
        ledger.record(phase, step, &answer);
        self.history
            .push(format!("{} → {}", step.as_str(), answer.label()));
        let challenge_in = |body: &Value| body["challenge_id"].as_str().map(str::to_owned);
        match (step, answer.status, answer.code.as_deref()) {
            (Step::Start | Step::Resend, Some(200), _) => {
                let Some(challenge) = challenge_in(&answer.body) else {
                    self.next = Next::Stuck("200 without a challenge_id".to_owned());
                    return false;
                };
                match proxy.newest_code(&self.identifier) {
                    Some(code) => {
                        self.next = Next::Verify { challenge, code };
                        true
                    }
                    None => {
                        self.next = Next::Stuck("200, but no message was delivered".to_owned());
                        false
                    }
                }
            }
            (Step::Verify, Some(200), _) => {
                self.next = Next::SignedIn;
                false
            }
            (Step::Start | Step::Resend, Some(503), Some("delivery_failed")) => {
                self.had_delivery_failure = true;
                self.next = match challenge_in(&answer.body) {
                    Some(challenge) => Next::Resend { challenge },
                    None => Next::Stuck("delivery_failed names no challenge_id".to_owned()),
                };
                false
            }
            (_, Some(503), _) => {
                self.had_unavailable = true;
                false
            }
            (Step::Resend, Some(429), Some("resend_too_soon")) => {
                let wait = answer
                    .retry_after
                    .as_deref()
                    .and_then(|secs| secs.parse().ok())
                    .unwrap_or(1u64)
                    .min(5);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                false
            }
            _ => {
                self.next = Next::Stuck(answer.label());
                false
            }
        }
    }

    fn describe(&self) -> String {
        let ending = match &self.next {
            Next::Stuck(why) => format!(" (stuck: {why})"),
            _ => String::new(),
        };
        format!("{}: {}{ending}", self.identifier, self.history.join(", "))
    }
}

async fn send(app: &TestApp, step: Step, body: Value) -> Answer {
    let sent = app
        .http
        .post(app.url(step.path()))
        .header("x-api-key", &app.publishable_key)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let Ok(response) = sent else {
        return Answer {
            status: None,
            code: None,
            retry_after: None,
            body: Value::Null,
        };
    };
    let status = response.status().as_u16();
    let problem = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.as_bytes().starts_with(b"application/problem+json"));
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Answer {
        status: Some(status),
        code: problem
            .then(|| body["code"].as_str().map(str::to_owned))
            .flatten(),
        retry_after,
        body,
    }
}

/// Sign-ins answered 503 at some point that did not complete once the faults stopped.
pub fn stuck_after_unavailable(journeys: &[Journey]) -> Vec<String> {
    stuck(journeys, "answered 503", |j| j.had_unavailable)
}

/// Sign-ins whose delivery failed that did not complete by resending.
pub fn stuck_after_delivery_failure(journeys: &[Journey]) -> Vec<String> {
    stuck(journeys, "whose delivery failed", |j| {
        j.had_delivery_failure
    })
}

/// The sign-ins `which` picks that never completed: a count, then each one's history.
fn stuck(journeys: &[Journey], what: &str, which: impl Fn(&Journey) -> bool) -> Vec<String> {
    let picked: Vec<&Journey> = journeys.iter().filter(|j| which(j)).collect();
    let stuck: Vec<String> = picked
        .iter()
        .filter(|j| !j.signed_in())
        .map(|j| j.describe())
        .collect();
    if stuck.is_empty() {
        return stuck;
    }
    let mut failures = vec![format!(
        "{} of {} sign-ins {what} never completed",
        stuck.len(),
        picked.len()
    )];
    failures.extend(stuck);
    failures
}
