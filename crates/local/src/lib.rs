//! AuthKit on one machine: the HTTP API (the operator API with a token instead of IAM) plus
//! what only a development server has (the demo tenant, the dev outbox, a magic-link
//! callback page), and the table commands. The
//! binary (`src/main.rs`) parses arguments; integration tests mount [`router`] directly.

pub mod admin;
pub mod dev;
pub mod operator;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use authkit_app::App;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;

/// Where the server listens unless `--listen` or `AUTHKIT_LISTEN` say otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Every route: the API (the operator API taking `operator`) and the development extras,
/// behind the configured edge.
pub fn router(app: &App, operator: authkit_api::OperatorAuth) -> axum::Router {
    authkit_api::with_edge(
        authkit_api::router(app.authkit.clone(), operator).merge(dev::routes(app)),
        app.config.edge.clone(),
    )
}

/// A connection must deliver its request's headers this soon after it opens (or after
/// the previous response, when kept alive), or it is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request, body included, must be read and answered this soon after its headers, or
/// it is answered `408`. Longer than any sign-in takes against a remote DynamoDB.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `shutdown` completes, with the timeouts above, so a
/// client that opens connections and sends nothing, or sends slowly, cannot hold them
/// (security review, finding 7). Bodies are bounded by the API's own limit (16 KB), which
/// refuses a larger declared length before reading it. Connections still open at shutdown
/// are dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    let router = router
        .layer(axum::middleware::from_fn(answer_within_timeout))
        .layer(axum::middleware::map_response(authkit_api::secure_headers));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let service =
            router
                .clone()
                .map_request(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "connection closed");
            }
        });
    }
}

async fn answer_within_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => authkit_api::Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request was not received within {} seconds",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

/// The URL that reaches a server bound to `bound`: a wildcard bind (0.0.0.0, [::]) is
/// reached on loopback, so the URL names that, never an address no client can dial.
pub fn base_url_for(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, bound.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_is_named_by_its_loopback_address() {
        for (bound, url) in [
            ("127.0.0.1:18080", "http://127.0.0.1:18080"),
            ("0.0.0.0:8080", "http://127.0.0.1:8080"),
            ("[::]:8080", "http://[::1]:8080"),
            ("[::1]:9000", "http://[::1]:9000"),
            ("192.168.1.20:8443", "http://192.168.1.20:8443"),
        ] {
            assert_eq!(base_url_for(bound.parse().unwrap()), url, "{bound}");
        }
    }
}
