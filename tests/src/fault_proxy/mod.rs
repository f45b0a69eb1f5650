//! A fault-injecting HTTP proxy between AuthKit and the AWS emulator. AuthKit is pointed at
//! it with `AWS_ENDPOINT_URL`; each request is classified by service (DynamoDB by its
//! `X-Amz-Target`, SES v2 by its REST path, SNS by its query `Action`) and, at the
//! configured rate, answered with a fault instead of being forwarded:
//!
//! - throttling and server errors in each service's real wire shape (DynamoDB: awsJson 1.0
//!   `__type` bodies; SES v2: REST-JSON with `x-amzn-ErrorType`; SNS: query-protocol XML),
//! - a connection reset before the request reaches the emulator,
//! - a lost response (DynamoDB only): the emulator applied the request, then the
//!   connection is reset, so the client cannot know that it succeeded,
//! - a timeout: the request is held, unanswered, longer than the client waits.
//!
//! DynamoDB makes `TransactWriteItems` idempotent by its `ClientRequestToken` for ten
//! minutes (the SDK fills one in and reuses it across retries); moto does not, so the proxy
//! replays the first answer to a repeated token as DynamoDB would: otherwise a lost
//! response would fail a retried transaction here that succeeds on AWS.
//!
//! Everything else (Secrets Manager, `/moto-api`) passes through. The proxy records every
//! message SES or SNS accepted, so a test reads the code a user would have received, and
//! counts what it injected. Loopback only.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

mod wire;

use wire::{
    classify, delivered_message, dynamodb_error, error_response, header, is_hop_by_hop,
    transaction_token,
};

/// The AWS services the proxy tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    DynamoDb,
    Ses,
    Sns,
    /// Anything else: forwarded untouched, never faulted.
    Other,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Ses => "ses",
            Service::Sns => "sns",
            Service::Other => "other",
        }
    }
}

/// What the proxy can do instead of forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// DynamoDB `ProvisionedThroughputExceededException` (400).
    ThroughputExceeded,
    /// DynamoDB `ThrottlingException` (400), SES `TooManyRequestsException` (429), SNS
    /// `Throttling` (400).
    Throttling,
    /// DynamoDB `InternalServerError`, SES `InternalFailure`, SNS `InternalError` (500).
    InternalError,
    /// SES `MessageRejected`, SNS `InvalidParameter` (400): the provider refuses this
    /// message; no retry helps it.
    Rejected,
    /// The connection is reset before the request reaches the service.
    ConnectionReset,
    /// The service applied the request; the connection is reset before the answer.
    ResponseLost,
    /// No answer until the client has given up.
    Timeout,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ThroughputExceeded => "throughput_exceeded",
            Fault::Throttling => "throttling",
            Fault::InternalError => "internal_error",
            Fault::Rejected => "rejected",
            Fault::ConnectionReset => "connection_reset",
            Fault::ResponseLost => "response_lost",
            Fault::Timeout => "timeout",
        }
    }

    pub fn parse(raw: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    const ALL: [Fault; 7] = [
        Fault::ThroughputExceeded,
        Fault::Throttling,
        Fault::InternalError,
        Fault::Rejected,
        Fault::ConnectionReset,
        Fault::ResponseLost,
        Fault::Timeout,
    ];

    /// The faults a service can suffer here. A lost response is injected on DynamoDB
    /// only: on SES or SNS it would deliver a message the test then cannot tell from one
    /// that failed.
    fn applies_to(self, service: Service) -> bool {
        match (self, service) {
            (_, Service::Other) => false,
            (Fault::ThroughputExceeded | Fault::ResponseLost, Service::DynamoDb) => true,
            (Fault::ThroughputExceeded | Fault::ResponseLost, _) => false,
            (Fault::Rejected, Service::DynamoDb) => false,
            _ => true,
        }
    }
}

/// How often to inject which faults.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// The share of DynamoDB requests (each SDK attempt is one) answered with a fault.
    pub dynamodb_rate: f64,
    /// The share of SES and SNS requests answered with a fault.
    pub delivery_rate: f64,
    /// The faults to choose from, evenly, among those that apply to the service.
    pub kinds: Vec<Fault>,
    /// How long a `Timeout` holds a request; longer than the client's attempt timeout.
    pub hold: Duration,
    pub seed: u64,
}

impl FaultPlan {
    pub fn all_kinds() -> Vec<Fault> {
        Fault::ALL.to_vec()
    }
}

/// A message the delivery service accepted.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub to: String,
    pub text: String,
}

#[derive(Default)]
struct Tally {
    injected: BTreeMap<(Service, Fault), u64>,
    forwarded: BTreeMap<Service, u64>,
    dynamodb_operations: BTreeMap<String, u64>,
    dynamodb_faults: BTreeMap<String, u64>,
    /// Forwarded requests whose answer took longer than the hold: the client may have
    /// timed out on its own, so a fault happened that the proxy did not inject.
    slow: u64,
    delivered: HashMap<String, Vec<String>>,
    /// `ClientRequestToken` → the request it came with and what DynamoDB answered.
    transactions: HashMap<String, Transaction>,
}

struct Transaction {
    request: Bytes,
    at: Instant,
    /// The emulator's answer, shared by every request with the token; `None` when no
    /// answer came.
    answer: Shared<BoxFuture<'static, Option<Upstream>>>,
}

/// What the emulator answered.
#[derive(Clone)]
struct Upstream {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Upstream {
    fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body.clone()));
        *response.status_mut() = self.status;
        for (name, value) in &self.headers {
            if !is_hop_by_hop(name.as_str()) {
                response.headers_mut().append(name, value.clone());
            }
        }
        response
    }
}

/// How long DynamoDB remembers a transaction's client token.
const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(600);

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    plan: FaultPlan,
    enabled: AtomicBool,
    /// The plan's DynamoDB rate, until [`FaultProxy::set_dynamodb_rate`] changes it.
    dynamodb_rate: AtomicU64,
    rng: AtomicU64,
    tally: Mutex<Tally>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the proxy did, for the report.
#[derive(Debug, Clone)]
pub struct ProxyReport {
    pub injected: BTreeMap<(Service, Fault), u64>,
    pub forwarded: BTreeMap<Service, u64>,
    /// DynamoDB requests by operation (`GetItem`, `TransactWriteItems`, …), and how many
    /// of each were answered with a fault.
    pub dynamodb_operations: BTreeMap<String, u64>,
    pub dynamodb_faults: BTreeMap<String, u64>,
    pub slow: u64,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`. It forwards
    /// everything until [`FaultProxy::set_faults`] turns the faults on.
    pub async fn start(upstream: &str, plan: FaultPlan) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let address: SocketAddr = listener.local_addr().expect("a bound address");
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("an HTTP client"),
            rng: AtomicU64::new(plan.seed),
            dynamodb_rate: AtomicU64::new(plan.dynamodb_rate.to_bits()),
            plan,
            enabled: AtomicBool::new(false),
            tally: Mutex::new(Tally::default()),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { state.handle(request).await }
                    });
                    // A connection the proxy resets ends here with an error: expected.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            url: format!("http://{address}"),
            state,
            task,
        }
    }

    /// Starts or stops injecting faults.
    pub fn set_faults(&self, enabled: bool) {
        self.state.enabled.store(enabled, Ordering::SeqCst);
    }

    /// Faults this share of DynamoDB calls from now on.
    pub fn set_dynamodb_rate(&self, rate: f64) {
        self.state
            .dynamodb_rate
            .store(rate.to_bits(), Ordering::SeqCst);
    }

    /// Every message SES or SNS accepted for `to`, oldest first.
    pub fn delivered_to(&self, to: &str) -> Vec<String> {
        self.state
            .tally
            .lock()
            .expect("tally lock")
            .delivered
            .get(to)
            .cloned()
            .unwrap_or_default()
    }

    /// The newest one-time code (a run of 6 digits) delivered to `to`.
    pub fn newest_code(&self, to: &str) -> Option<String> {
        self.delivered_to(to).iter().rev().find_map(|text| {
            text.split(|c: char| !c.is_ascii_digit())
                .find(|run| run.len() == 6)
                .map(str::to_owned)
        })
    }

    pub fn report(&self) -> ProxyReport {
        let tally = self.state.tally.lock().expect("tally lock");
        ProxyReport {
            injected: tally.injected.clone(),
            forwarded: tally.forwarded.clone(),
            dynamodb_operations: tally.dynamodb_operations.clone(),
            dynamodb_faults: tally.dynamodb_faults.clone(),
            slow: tally.slow,
        }
    }
}

/// The error that makes hyper close the connection without an answer.
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault proxy")
    }
}

impl std::error::Error for Reset {}

type Answer = Result<Response<Full<Bytes>>, Reset>;

impl ProxyState {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Answer {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Err(Reset),
        };
        let target = header(&parts.headers, "x-amz-target");
        let service = classify(&parts.method, parts.uri.path(), target, &body);
        let operation = (service == Service::DynamoDb)
            .then(|| target.and_then(|t| t.rsplit('.').next()).unwrap_or("?"));
        if let Some(operation) = operation {
            *self
                .tally
                .lock()
                .expect("tally lock")
                .dynamodb_operations
                .entry(operation.to_owned())
                .or_default() += 1;
        }

        let fault = self.roll(service);
        if let Some(fault) = fault {
            self.count_fault(service, operation, fault);
            match fault {
                Fault::ConnectionReset => return Err(Reset),
                Fault::Timeout => {
                    tokio::time::sleep(self.plan.hold).await;
                    return Err(Reset);
                }
                Fault::ResponseLost => {}
                answered => return Ok(error_response(service, answered).response()),
            }
        }

        let answer = match transaction_token(target, &body) {
            Some(token) => self.transact(token, &parts, body.clone()).await?,
            None => self.forward(service, &parts, body.clone()).await?,
        };
        if fault == Some(Fault::ResponseLost) {
            return Err(Reset);
        }
        if answer.status.is_success() {
            if let Some(delivered) = delivered_message(service, &body) {
                self.tally
                    .lock()
                    .expect("tally lock")
                    .delivered
                    .entry(delivered.to)
                    .or_default()
                    .push(delivered.text);
            }
        }
        Ok(answer.response())
    }

    fn count_fault(&self, service: Service, operation: Option<&str>, fault: Fault) {
        let mut tally = self.tally.lock().expect("tally lock");
        *tally.injected.entry((service, fault)).or_default() += 1;
        if let Some(operation) = operation {
            *tally
                .dynamodb_faults
                .entry(operation.to_owned())
                .or_default() += 1;
        }
    }

    /// A `TransactWriteItems` goes to the emulator once per client token, as DynamoDB
    /// applies it once: the same token again (the SDK's retry after a lost or timed-out
    /// answer) gets that first answer, also while the first is still being applied — the
    /// emulator is serialised and can be slower than the client's attempt timeout, so the
    /// first attempt's forward runs on even when its client has gone. Only an applied
    /// transaction is remembered (a failed one may be retried); a changed request with a
    /// known token is `IdempotentParameterMismatchException`.
    async fn transact(
        self: &Arc<Self>,
        token: String,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<Upstream, Reset> {
        let answer = {
            let mut tally = self.tally.lock().expect("tally lock");
            let seen = tally
                .transactions
                .get(&token)
                .filter(|seen| seen.at.elapsed() < IDEMPOTENCY_WINDOW);
            match seen {
                Some(seen) if seen.request != body => {
                    return Ok(dynamodb_error(
                        400,
                        "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                        "Request parameters do not match the previous request with the same idempotency token.",
                    ))
                }
                Some(seen) => seen.answer.clone(),
                None => {
                    let request = self.upstream_request(parts, body.clone());
                    let (state, key) = (self.clone(), token.clone());
                    let applying = tokio::spawn(async move {
                        let answer = state.send(Service::DynamoDb, request).await.ok();
                        if !answer.as_ref().is_some_and(|a| a.status.is_success()) {
                            let mut tally = state.tally.lock().expect("tally lock");
                            tally.transactions.remove(&key);
                        }
                        answer
                    });
                    let answer = applying
                        .map(|joined| joined.ok().flatten())
                        .boxed()
                        .shared();
                    tally.transactions.insert(
                        token,
                        Transaction {
                            request: body,
                            at: Instant::now(),
                            answer: answer.clone(),
                        },
                    );
                    answer
                }
            }
        };
        answer.await.ok_or(Reset)
    }

    /// The fault for this request, if one is due: a seeded splitmix64 draw, so a run's
    /// mix of faults is reproducible up to the order concurrent requests arrive in.
    fn roll(&self, service: Service) -> Option<Fault> {
        if service == Service::Other || !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        let rate = match service {
            Service::DynamoDb => f64::from_bits(self.dynamodb_rate.load(Ordering::SeqCst)),
            _ => self.plan.delivery_rate,
        };
        let kinds: Vec<Fault> = self
            .plan
            .kinds
            .iter()
            .copied()
            .filter(|kind| kind.applies_to(service))
            .collect();
        if kinds.is_empty() {
            return None;
        }
        let draw = self.next_random();
        let unit = (draw >> 11) as f64 / (1u64 << 53) as f64;
        if unit >= rate {
            return None;
        }
        Some(kinds[(self.next_random() % kinds.len() as u64) as usize])
    }

    fn next_random(&self) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    async fn forward(
        &self,
        service: Service,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<Upstream, Reset> {
        self.send(service, self.upstream_request(parts, body)).await
    }

    /// The request as it goes on to the emulator.
    fn upstream_request(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> reqwest::RequestBuilder {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut request = self
            .http
            .request(parts.method.clone(), format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in &parts.headers {
            if !is_hop_by_hop(name.as_str()) {
                request = request.header(name, value);
            }
        }
        request
    }

    async fn send(
        &self,
        service: Service,
        request: reqwest::RequestBuilder,
    ) -> Result<Upstream, Reset> {
        let started = Instant::now();
        let upstream = request.send().await.map_err(|_| Reset)?;
        let status = upstream.status();
        let headers = upstream.headers().clone();
        let body = upstream.bytes().await.map_err(|_| Reset)?;
        {
            let mut tally = self.tally.lock().expect("tally lock");
            *tally.forwarded.entry(service).or_default() += 1;
            if started.elapsed() > self.plan.hold {
                tally.slow += 1;
            }
        }
        Ok(Upstream {
            status,
            headers,
            body,
        })
    }
}
