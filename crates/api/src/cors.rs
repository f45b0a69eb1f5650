//! CORS, answered by AuthKit itself: which browser origin may read an answer depends on
//! the tenant, which only the API key names. A preflight (`OPTIONS`) carries no key, so
//! it is answered alike for every origin; the request itself is then judged by its key
//! (`authkit_domain::service::access`), and only an origin the tenant allows gets
//! `Access-Control-Allow-Origin`. An API Gateway HTTP API's own CORS configuration would
//! answer for every tenant alike and replace these headers, so the stack has none.

use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Set by the API-key extractor when the request's origin may read the answer.
#[derive(Clone, Default)]
pub(crate) struct AllowedOrigin(Arc<OnceLock<HeaderValue>>);

impl AllowedOrigin {
    pub fn allow(&self, origin: &str) {
        if let Ok(value) = HeaderValue::from_str(origin) {
            let _ = self.0.set(value);
        }
    }
}

/// What a browser may send: the key, the bearer token, JSON, and the admin API's headers.
const ALLOWED_HEADERS: &str =
    "authkit-tenant, authorization, content-type, idempotency-key, if-match, x-api-key";
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PATCH, DELETE";
/// What a page may read besides the simple headers.
const EXPOSED_HEADERS: &str = "etag, retry-after, x-request-id";

pub(crate) async fn cors(mut request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, &origin) {
        return preflight_answer(origin.clone());
    }
    let allowed = AllowedOrigin::default();
    request.extensions_mut().insert(allowed.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed.0.get() {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    response
}

fn preflight_answer(origin: HeaderValue) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            ),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            ),
            (header::VARY, HeaderValue::from_static("origin")),
        ],
    )
        .into_response()
}
