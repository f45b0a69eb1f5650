//! AuthKit on one machine: the HTTP API (the operator API with a token instead of IAM) plus
//! what only a development server has (the demo tenant, the dev outbox, a magic-link
//! callback page), and the table commands. The
//! binary (`src/main.rs`) parses arguments; integration tests mount [`router`] directly.

pub mod admin;
pub mod dev;
pub mod operator;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use authkit_app::App;

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
