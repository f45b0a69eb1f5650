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

/// API Gateway's request id when there is one (so logs join up), else a fresh one.
fn request_id(request: &Request) -> String {
    ["x-amzn-requestid", "x-amz-apigw-id", "x-request-id"]
        .iter()
        .find_map(|name| request.headers().get(*name).and_then(|v| v.to_str().ok()))
        .filter(|id| id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 12];
            authkit_domain::Randomness::fill(&authkit_domain::OsRandomness, &mut bytes);
            hex::encode(bytes)
        })
}
