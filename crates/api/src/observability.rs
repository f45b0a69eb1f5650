//! One structured log line per request: request id, method, path, tenant, status,
//! problem code and latency. Never bodies, codes, tokens or keys. The field is `problem`,
//! not `outcome`: outcomes are logged once, where they happen, and metric filters count them.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::problem::ProblemCode;

/// Filled in by extractors as the request is understood.
#[derive(Clone, Default)]
pub(crate) struct RequestLog {
    tenant: Arc<OnceLock<String>>,
}

impl RequestLog {
    pub fn set_tenant(&self, tenant: &str) {
        let _ = self.tenant.set(tenant.to_owned());
    }
}

pub(crate) async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id(&request);
    let method = request.method().clone();
    // The path only: query strings can carry magic-link tokens.
    let path = request.uri().path().to_owned();
    let log = RequestLog::default();
    request.extensions_mut().insert(log.clone());

    let mut response = next.run(request).await;

    let status = response.status().as_u16();
    let problem = response
        .extensions()
        .get::<ProblemCode>()
        .map_or("none", |code| code.0);
    let tenant = log.tenant.get().map(String::as_str).unwrap_or("-");
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(request_id = %request_id, %method, path, tenant, status, problem, latency_ms, "request");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The request id the platform assigned (API Gateway's, from the event's request
/// context), set by the Lambda adapter: it joins AuthKit's log line to the platform's.
#[derive(Debug, Clone)]
pub struct PlatformRequestId(pub String);

/// The longest request id a client may choose.
const MAX_CLIENT_REQUEST_ID: usize = 64;

/// The platform's request id; else the client's `x-request-id` when it is short and plain
/// (letters, digits, `.`, `_`, `-`), so it can name a request across services but cannot
/// forge log fields or carry data; else a fresh one. Headers that look like the platform's
/// (`x-amzn-requestid`) are the client's too, and are not read.
fn request_id(request: &Request) -> String {
    if let Some(PlatformRequestId(id)) = request.extensions().get::<PlatformRequestId>() {
        return id.clone();
    }
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_plain(id))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 12];
            authkit_domain::Randomness::fill(&authkit_domain::OsRandomness, &mut bytes);
            hex::encode(bytes)
        })
}

fn is_plain(id: &str) -> bool {
    (1..=MAX_CLIENT_REQUEST_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
