//! Responses that carry tokens or credentials must not be kept by any cache, shared or
//! private (RFC 6749 §5.1; `Pragma` for HTTP/1.0 caches).

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// For `axum::middleware::map_response` on the routes that hand out or reveal secrets.
pub(crate) async fn forbid_caching(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
