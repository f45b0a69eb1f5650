//! The round-trip meter: a proxy between AuthKit and the emulator that holds every
//! DynamoDB call for a fixed delay and records when it started and ended, so that for one
//! HTTP request we can count the DynamoDB calls, the sequential round trips (the longest
//! chain of calls that did not overlap in time: with the added delay, calls made in
//! parallel always overlap and calls made one after another never do) and the capacity
//! units they would be billed.
//!
//! Capacity units are computed here from the items' sizes, because moto answers
//! `ReturnConsumedCapacity` with fixed numbers (1.0 per write, 0.5 per read, nothing for
//! `UpdateItem` or transactions). The rules are DynamoDB's: a write costs one WCU per KB
//! of the item, a strongly consistent read one RCU per 4 KB (half for an eventually
//! consistent one), every item of a transaction twice that, and a write whose condition
//! failed as much as one that succeeded. For an `UpdateItem` or `DeleteItem` that does not
//! return the item, the item is taken to be under 1 KB (every AuthKit item is: the
//! largest, a challenge, is about 600 bytes).
//!
//! Calls to other services (SES, SNS, Secrets Manager) pass through unrecorded and
//! undelayed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// One DynamoDB call as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The operation (`GetItem`, `TransactWriteItems`, …).
    pub operation: String,
    pub started: Instant,
    pub ended: Instant,
    pub read_units: f64,
    pub write_units: f64,
}

/// What one request cost in DynamoDB.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundTrips {
    pub calls: usize,
    /// The longest chain of calls each of which started after the previous one ended.
    pub sequential: usize,
    pub read_units: f64,
    pub write_units: f64,
    /// The calls' operations in the order they started.
    pub operations: Vec<String>,
}

impl RoundTrips {
    pub fn of(calls: &[Call]) -> RoundTrips {
        let mut calls = calls.to_vec();
        calls.sort_by_key(|call| call.started);
        // chain[i]: the longest chain of non-overlapping calls ending with call i.
        let mut chain = vec![1usize; calls.len()];
        for i in 0..calls.len() {
            for j in 0..i {
                if calls[j].ended <= calls[i].started {
                    chain[i] = chain[i].max(chain[j] + 1);
                }
            }
        }
        RoundTrips {
            calls: calls.len(),
            sequential: chain.into_iter().max().unwrap_or(0),
            read_units: calls.iter().map(|c| c.read_units).sum(),
            write_units: calls.iter().map(|c| c.write_units).sum(),
            operations: calls.into_iter().map(|c| c.operation).collect(),
        }
    }
}

struct Proxy {
    upstream: String,
    delay: Duration,
    http: reqwest::Client,
    calls: Mutex<Vec<Call>>,
}

/// The proxy, listening on a loopback port of its own.
pub struct Meter {
    url: String,
    proxy: Arc<Proxy>,
}

impl Meter {
    /// Starts a proxy in front of `upstream` that delays each DynamoDB call by `delay`.
    pub async fn start(upstream: &str, delay: Duration) -> Meter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let proxy = Arc::new(Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            delay,
            http: reqwest::Client::new(),
            calls: Mutex::new(Vec::new()),
        });
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the meter serves");
        });
        Meter { url, proxy }
    }

    /// Where to point AuthKit (`AWS_ENDPOINT_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The calls recorded since the last call of `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.proxy.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

const DYNAMODB_TARGET: &str = "DynamoDB_20120810.";

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.strip_prefix(DYNAMODB_TARGET))
        .map(str::to_owned);
    if operation.is_some() {
        tokio::time::sleep(proxy.delay).await;
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut upstream = proxy
        .http
        .request(parts.method.clone(), format!("{}{path}", proxy.upstream))
        .body(body.clone());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answered = match upstream.send().await {
        Ok(answered) => answered,
        Err(error) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(error.to_string()))
                .unwrap_or_default()
        }
    };
    let status = answered.status();
    let headers: HeaderMap = answered.headers().clone();
    let answer = answered.bytes().await.unwrap_or_default();
    if let Some(operation) = operation {
        let request_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let answer_json: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        let (read_units, write_units) = units(&operation, &request_json, &answer_json);
        proxy
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Call {
                operation,
                started,
                ended: Instant::now(),
                read_units,
                write_units,
            });
    }
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(answer)).unwrap_or_default()
}

/// Read and write units of one call, from the request and the answer (see the module docs).
fn units(operation: &str, request: &Value, answer: &Value) -> (f64, f64) {
    let consistent = |r: &Value| {
        if r["ConsistentRead"].as_bool() == Some(true) {
            1.0
        } else {
            0.5
        }
    };
    let write = |item: &Value| (item_size(item) as f64 / 1024.0).ceil().max(1.0);
    match operation {
        "GetItem" => (
            read_units(item_size(&answer["Item"])) * consistent(request),
            0.0,
        ),
        "Query" | "Scan" => {
            let size = answer["Items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(item_size)
                .sum();
            (read_units(size) * consistent(request), 0.0)
        }
        "PutItem" => (0.0, write(&request["Item"])),
        "UpdateItem" | "DeleteItem" => (0.0, write(&answer["Attributes"])),
        "TransactWriteItems" => {
            let units = request["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|action| match &action["Put"]["Item"] {
                    Value::Null => 2.0,
                    item => 2.0 * write(item),
                })
                .sum();
            (0.0, units)
        }
        "TransactGetItems" => {
            let reads = answer["Responses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| 2.0 * read_units(item_size(&r["Item"])))
                .sum();
            (reads, 0.0)
        }
        "BatchWriteItem" => {
            let units = request["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.values())
                .filter_map(Value::as_array)
                .flatten()
                .map(|request| match &request["PutRequest"]["Item"] {
                    Value::Null => 1.0,
                    item => write(item),
                })
                .sum();
            (0.0, units)
        }
        _ => (0.0, 0.0),
    }
}

fn read_units(size: usize) -> f64 {
    (size as f64 / 4096.0).ceil().max(1.0)
}

/// An item's size as DynamoDB bills it: attribute names plus values (numbers by their
/// digits, approximately).
fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |attributes| {
        attributes
            .iter()
            .map(|(name, value)| name.len() + value_size(value))
            .sum()
    })
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "B" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(1, |n| n.len().div_ceil(2) + 1),
        "BOOL" | "NULL" => 1,
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(value_size)
                .sum::<usize>()
        }
        "M" => 3 + item_size(inner),
        _ => inner.to_string().len(),
    }
}

/// The sign-in paths the budgets are about, each measured on a warm app (its API key and
/// tenant already used once), with the default rate limits and the email channel.
pub async fn measure_sign_in_paths(
    app: &crate::TestApp,
    meter: &Meter,
) -> Vec<(&'static str, RoundTrips)> {
    use serde_json::json;
    let mut measured = Vec::new();
    let mut measure = |name, calls: Vec<Call>| measured.push((name, RoundTrips::of(&calls)));

    // Warm up: the API key and tenant are read once, the SDK's connections are open.
    app.sign_in(&app.unique_email()).await;

    let email = app.unique_email();
    meter.take();
    let started = app.start(&email).await;
    measure("start (email code)", meter.take());
    let code = app.code_sent_to(&email).await;
    meter.take();
    let verified = app
        .verify_code(started["challenge_id"].as_str().expect("an id"), &code)
        .await;
    measure("verify (code, first sign-in)", meter.take());
    assert_eq!(verified.status(), 200, "the verify being measured failed");
    let tokens: Value = verified.json().await.expect("tokens");

    meter.take();
    let refreshed = app
        .post(
            "/v1/token/refresh",
            Some(&app.publishable_key),
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    measure("refresh", meter.take());
    assert_eq!(refreshed.status(), 200, "the refresh being measured failed");

    let linked = app.unique_email();
    let response = app
        .post(
            "/v1/auth/start",
            Some(&app.publishable_key),
            json!({"identifier": linked, "kind": "magic_link", "redirect_uri": app.redirect_uri}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let link = app.link_sent_to(&linked).await;
    // The page is opened first (its own request); the press is what is measured.
    let press = app.link_confirmation(&link).await;
    meter.take();
    let confirmed = press.send().await.expect("the link page answers");
    measure("magic link: confirm", meter.take());
    assert_eq!(
        confirmed.status(),
        303,
        "the confirmation being measured failed"
    );
    let location = confirmed.headers()["location"]
        .to_str()
        .expect("a location");
    let redirect = url::Url::parse(location).expect("a redirect");
    let result = url::form_urlencoded::parse(redirect.fragment().expect("a fragment").as_bytes())
        .find(|(name, _)| name == "authkit_result")
        .expect("a result")
        .1
        .into_owned();
    meter.take();
    let exchanged = app
        .post(
            "/v1/auth/verify",
            Some(&app.publishable_key),
            json!({"result": result}),
        )
        .await;
    measure("magic link: exchange", meter.take());
    assert_eq!(
        exchanged.status(),
        200,
        "the exchange being measured failed"
    );

    let fingerprint =
        json!({"platform": "Linux x86_64", "timezone": "Europe/Berlin", "screen": "2560x1440"});
    let bound = app
        .http
        .post(app.url("/v1/devices"))
        .bearer_auth(tokens["access_token"].as_str().expect("an access token"))
        .header("x-api-key", &app.publishable_key)
        .json(&json!({"fingerprint": fingerprint, "trusted": true}))
        .send()
        .await
        .expect("binding answers");
    assert_eq!(bound.status(), 201);
    let bound: Value = bound.json().await.expect("a device");
    meter.take();
    let device = app
        .post(
            "/v1/auth/device",
            Some(&app.publishable_key),
            json!({"credential": bound["credential"], "fingerprint": fingerprint}),
        )
        .await;
    measure("device sign-in", meter.take());
    assert_eq!(
        device.status(),
        200,
        "the device sign-in being measured failed"
    );
    measured
}

/// The measurements as a Markdown table.
pub fn table(measured: &[(&str, RoundTrips)]) -> String {
    let mut out = String::from(
        "| request | DynamoDB calls | sequential round trips | RCU | WCU | calls in order |\n|---|---|---|---|---|---|\n",
    );
    for (name, trips) in measured {
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            trips.calls,
            trips.sequential,
            trips.read_units,
            trips.write_units,
            trips.operations.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(start_ms: u64, end_ms: u64) -> Call {
        let zero = Instant::now();
        Call {
            operation: "GetItem".into(),
            started: zero + Duration::from_millis(start_ms),
            ended: zero + Duration::from_millis(end_ms),
            read_units: 1.0,
            write_units: 0.0,
        }
    }

    #[test]
    fn overlapping_calls_are_one_round_trip_and_chained_ones_add_up() {
        let trips = RoundTrips::of(&[call(0, 30), call(1, 31), call(31, 60), call(61, 90)]);
        assert_eq!(trips.calls, 4);
        assert_eq!(trips.sequential, 3);
        assert_eq!(trips.read_units, 4.0);
    }

    #[test]
    fn units_follow_item_sizes_and_double_in_transactions() {
        let big = serde_json::json!({"pk": {"S": "x".repeat(1500)}});
        let put = serde_json::json!({"Item": big});
        assert_eq!(units("PutItem", &put, &Value::Null), (0.0, 2.0));
        let transaction = serde_json::json!({"TransactItems": [{"Put": {"Item": {"pk": {"S": "a"}}}}, {"Update": {}}]});
        assert_eq!(
            units("TransactWriteItems", &transaction, &Value::Null),
            (0.0, 4.0)
        );
        let read = serde_json::json!({"ConsistentRead": true});
        assert_eq!(
            units("GetItem", &read, &serde_json::json!({"Item": big})),
            (1.0, 0.0)
        );
        assert_eq!(units("GetItem", &Value::Null, &Value::Null), (0.5, 0.0));
    }
}
