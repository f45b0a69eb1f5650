//! The front door: which address a request comes from, and whether it came the way the
//! deployment says requests come. Entry points wrap their router in [`with_edge`]; the
//! platform's view of the peer arrives as [`PeerAddr`] (the Lambda adapter sets it from API
//! Gateway's request context) or axum's `ConnectInfo` (the local server).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::Problem;

/// The header CloudFront adds to every origin request when the origin secret is on.
pub const ORIGIN_SECRET_HEADER: &str = "x-authkit-origin";

/// Where the client's address is read from (`AUTHKIT_CLIENT_IP_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientIpSource {
    /// The peer the platform saw: API Gateway's source IP, an ALB's appended
    /// `X-Forwarded-For` entry, or the socket peer locally.
    #[default]
    Direct,
    /// `CloudFront-Viewer-Address`, which CloudFront sets itself. Only trustworthy when
    /// requests that did not pass CloudFront are refused, so it requires the origin secret.
    CloudFront,
}

/// How requests reach AuthKit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edge {
    pub client_ip: ClientIpSource,
    /// SHA-256 of the secret CloudFront sends as `x-authkit-origin`
    /// (`AUTHKIT_ORIGIN_SECRET_SHA256`); when set, requests without it are refused, so the
    /// WAF in front cannot be sidestepped by calling the API's own endpoint.
    pub origin_secret_sha256: Option<[u8; 32]>,
}

/// The address the platform saw the request come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

/// The client's address as the edge determined it; read by the API-key extractor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub Option<IpAddr>);

/// Every entry point's outermost layers: the edge's admission, and the headers every
/// response carries ([`crate::secure_headers`]), refusals included.
pub fn with_edge(router: Router, edge: Edge) -> Router {
    router
        .layer(axum::middleware::from_fn(move |request, next| {
            let edge = edge.clone();
            async move { admit(&edge, request, next).await }
        }))
        .layer(axum::middleware::map_response(crate::secure_headers))
}

async fn admit(edge: &Edge, mut request: Request, next: Next) -> Response {
    if let Some(expected) = &edge.origin_secret_sha256 {
        let presented = request
            .headers()
            .get(ORIGIN_SECRET_HEADER)
            .map(|value| Sha256::digest(value.as_bytes()));
        let came_through = presented.is_some_and(|digest| bool::from(digest.ct_eq(expected)));
        if !came_through {
            tracing::warn!(outcome = "origin_forbidden", path = %request.uri().path(), "request did not come through the front door");
            return Problem::new(
                StatusCode::FORBIDDEN,
                "origin_forbidden",
                "requests must come through this deployment's public endpoint",
            )
            .into_response();
        }
    }
    let peer = peer(&request);
    let client = match edge.client_ip {
        ClientIpSource::Direct => peer,
        ClientIpSource::CloudFront => viewer(&request).or(peer),
    };
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

fn peer(request: &Request) -> Option<IpAddr> {
    let extensions = request.extensions();
    extensions
        .get::<PeerAddr>()
        .map(|PeerAddr(ip)| *ip)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip())
        })
}

/// `CloudFront-Viewer-Address: 198.51.100.7:46532` or `2001:db8::7:46532`: the address,
/// then a colon and the viewer's port.
fn viewer(request: &Request) -> Option<IpAddr> {
    let value = request
        .headers()
        .get("cloudfront-viewer-address")?
        .to_str()
        .ok()?;
    let (address, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.trim_matches(['[', ']']).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_viewer(value: &str) -> Request {
        Request::builder()
            .header("cloudfront-viewer-address", value)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn viewer_addresses_are_read_with_their_port_stripped() {
        assert_eq!(
            viewer(&with_viewer("198.51.100.7:46532")),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            viewer(&with_viewer("2001:db8:1:2::7:443")),
            Some("2001:db8:1:2::7".parse().unwrap())
        );
        for junk in ["198.51.100.7", "not an address:1", "198.51.100.7:port", ""] {
            assert_eq!(viewer(&with_viewer(junk)), None, "{junk:?}");
        }
    }
}
