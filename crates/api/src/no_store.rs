//! Response headers: responses that carry tokens or credentials must not be kept by any
//! cache, shared or private (RFC 6749 §5.1; `Pragma` for HTTP/1.0 caches), and no response
//! may be content-sniffed into something it is not.

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// For `axum::middleware::map_response` on the routes that hand out or reveal secrets.
pub(crate) async fn forbid_caching(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// For every response (`axum::middleware::map_response`): `X-Content-Type-Options:
/// nosniff`, and `Cache-Control: no-store` unless the route chose its own caching (the
/// discovery documents, the link page). An API answer is about one caller at one moment.
pub async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
