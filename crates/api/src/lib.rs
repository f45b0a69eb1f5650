//! AuthKit's HTTP API as an axum `Router` over the domain service. Handlers are thin:
//! parse the request into domain values, call one `AuthKit` method, map the result. Every
//! error leaves through [`problem::Problem`], the one error-to-HTTP mapping.
//!
//! | route group (Lambda)  | routes                                                        | credentials                      |
//! |-----------------------|---------------------------------------------------------------|----------------------------------|
//! | `start_routes`        | `POST /v1/auth/start`; `POST /v1/me/identifier`               | API key (publishable or secret); changing the identifier: + access token |
//! | `verify_routes`       | `POST /v1/auth/verify`, `POST /v1/auth/device`, `GET/HEAD/POST /v1/auth/link`, `POST /v1/me/identifier/verify` | API key; the link page needs none (the tenant is in the link) |
//! | `resend_routes`       | `POST /v1/auth/resend`                                        | API key                          |
//! | `token_routes`        | `POST /v1/token/refresh`, `POST /v1/token/revoke`; `POST /v1/token/introspect` | API key + the refresh token; introspection: secret key + the access token |
//! | `device_routes`       | `POST/GET /v1/devices`, `DELETE /v1/devices/{id}`             | API key (`x-api-key`) + access token (`Authorization: Bearer`) |
//! | `user_routes`         | `GET /v1/users`, `GET/DELETE /v1/users/{id}`, `POST /v1/users/{id}/disable` and `/enable`, `GET /v1/users/{id}/devices`, `/sessions`, `/export`, `POST /v1/users/{id}/sessions/revoke`, `GET /v1/audit-events`, `/v1/audit-events/export` | secret key |
//! | `health_routes`       | `GET /health`, `/live`, `/ready`                              | none                             |
//! | `discovery_routes`    | `GET /.well-known/jwks.json`, `/.well-known/openid-configuration`, `/openapi.json` | none |
//!
//! A publishable key is safe to ship in a browser or app: every end-user v1 route accepts
//! it, because each one also needs a secret the end user holds (a code, a link, a refresh
//! or access token). Secret keys are for servers: routes that act without such a secret (introspection,
//! Cognito sign-up, operator routes) take [`SecretKeyCaller`].
//!
//! Every response of a route that hands out or reveals tokens or credentials (verify,
//! device sign-in, the token and device routes) carries `Cache-Control: no-store` and
//! `Pragma: no-cache`; every other response carries `no-store` too unless its route sets
//! its own caching, and every response carries `X-Content-Type-Options: nosniff`.

mod admin_dto;
mod auth;
mod body;
mod dto;
mod edge;
mod link_csrf;
mod link_page;
mod no_store;
mod observability;
pub mod openapi;
mod problem;
mod routes;

use std::sync::Arc;

use authkit_domain::service::PublishedKeys;
use authkit_domain::store::AuditLog;
use authkit_domain::AuthKit;
use axum::middleware::map_response;
use axum::routing::{delete, get, post};
use axum::Router;

pub use auth::{bearer, SecretKeyCaller, TenantCaller};
pub use body::JsonBody;
pub use dto::ChallengeResponse;
pub use edge::{with_edge, ClientIpSource, Edge, PeerAddr, ORIGIN_SECRET_HEADER};
pub use no_store::secure_headers;
pub use observability::PlatformRequestId;
pub use problem::Problem;

/// Request bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

type State = Arc<AuthKit>;

/// Every route on one router: the local server and tests.
pub fn router(authkit: Arc<AuthKit>) -> Router {
    let signing_in = [start, verify, resend, tokens, devices, users]
        .into_iter()
        .fold(Router::new(), |merged, group| merged.merge(group()))
        .with_state(authkit.clone());
    finish(
        signing_in
            .merge(health().with_state(authkit.readiness_probe()))
            .merge(discovery().with_state(Arc::new(PublishedKeys::of(authkit)))),
    )
}

pub fn start_routes(authkit: Arc<AuthKit>) -> Router {
    finish(start().with_state(authkit))
}

pub fn verify_routes(authkit: Arc<AuthKit>) -> Router {
    finish(verify().with_state(authkit))
}

pub fn resend_routes(authkit: Arc<AuthKit>) -> Router {
    finish(resend().with_state(authkit))
}

pub fn token_routes(authkit: Arc<AuthKit>) -> Router {
    finish(tokens().with_state(authkit))
}

pub fn device_routes(authkit: Arc<AuthKit>) -> Router {
    finish(devices().with_state(authkit))
}

pub fn user_routes(authkit: Arc<AuthKit>) -> Router {
    finish(users().with_state(authkit))
}

/// Health needs only a store to probe: the health function holds no keys.
pub fn health_routes(store: Arc<dyn AuditLog>) -> Router {
    finish(health().with_state(store))
}

/// Discovery needs only the issuer and the public keys: the discovery function never
/// holds the pepper.
pub fn discovery_routes(published: Arc<PublishedKeys>) -> Router {
    finish(discovery().with_state(published))
}

fn start() -> Router<State> {
    Router::new()
        .route("/v1/auth/start", post(routes::sign_in::start))
        .route("/v1/me/identifier", post(routes::me::change_identifier))
}

fn verify() -> Router<State> {
    // The link page sets its own headers.
    let no_store = || map_response(no_store::forbid_caching);
    Router::new()
        .route(
            "/v1/auth/verify",
            post(routes::sign_in::verify).layer(no_store()),
        )
        .route(
            "/v1/auth/device",
            post(routes::devices::sign_in).layer(no_store()),
        )
        .route(
            "/v1/auth/link",
            get(link_page::show).post(link_page::confirm),
        )
        .route(
            "/v1/me/identifier/verify",
            post(routes::me::verify_identifier_change).layer(no_store()),
        )
}

fn resend() -> Router<State> {
    Router::new().route("/v1/auth/resend", post(routes::sign_in::resend))
}

fn tokens() -> Router<State> {
    Router::new()
        .route("/v1/token/refresh", post(routes::tokens::refresh))
        .route("/v1/token/revoke", post(routes::tokens::revoke))
        .route("/v1/token/introspect", post(routes::tokens::introspect))
        .route_layer(map_response(no_store::forbid_caching))
}

fn devices() -> Router<State> {
    Router::new()
        .route(
            "/v1/devices",
            post(routes::devices::bind).get(routes::devices::list),
        )
        .route("/v1/devices/{id}", delete(routes::devices::revoke))
        .route_layer(map_response(no_store::forbid_caching))
}

fn users() -> Router<State> {
    use routes::{audit, users};
    Router::new()
        .route("/v1/users", get(users::find))
        .route("/v1/users/{id}", get(users::get).delete(users::erase))
        .route("/v1/users/{id}/disable", post(users::disable))
        .route("/v1/users/{id}/enable", post(users::enable))
        .route("/v1/users/{id}/devices", get(users::devices))
        .route("/v1/users/{id}/sessions", get(users::sessions))
        .route(
            "/v1/users/{id}/sessions/revoke",
            post(users::revoke_sessions),
        )
        .route("/v1/users/{id}/export", get(users::export))
        .route("/v1/audit-events", get(audit::list))
        .route("/v1/audit-events/export", get(audit::export))
        .route_layer(map_response(no_store::forbid_caching))
}

fn health() -> Router<Arc<dyn AuditLog>> {
    Router::new()
        .route("/health", get(routes::health::health))
        .route("/live", get(routes::health::health))
        .route("/ready", get(routes::health::ready))
}

fn discovery() -> Router<Arc<PublishedKeys>> {
    Router::new()
        .route("/.well-known/jwks.json", get(routes::discovery::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(routes::discovery::openid_configuration),
        )
        .route("/openapi.json", get(routes::discovery::openapi))
}

/// Layers every router shares: problem JSON for unknown routes and methods, the body
/// limit (a declared length over it is refused before the body is read), and one log
/// line per request. Public so that routes outside this crate
/// (Cognito sign-up) behave the same.
pub fn finish(routes: Router) -> Router {
    routes
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(body::refuse_declared_oversize))
        .layer(axum::middleware::from_fn(observability::log_request))
}
