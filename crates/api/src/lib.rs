//! AuthKit's HTTP API as an axum `Router` over the domain service. Handlers are thin:
//! parse the request into domain values, call one `AuthKit` method, map the result. Every
//! error leaves through [`problem::Problem`], the one error-to-HTTP mapping.
//!
//! | route group (Lambda)  | routes                                                        | credentials                      |
//! |-----------------------|---------------------------------------------------------------|----------------------------------|
//! | `start_routes`        | `POST /v1/auth/start`; `POST /v1/me/identifier`; `POST /v1/signup` | API key (publishable or secret); changing the identifier: + access token; sign-up: none (the console is named by the route) |
//! | `verify_routes`       | `POST /v1/auth/verify`, `POST /v1/auth/device`, `GET/HEAD/POST /v1/auth/link`, `POST /v1/me/identifier/verify`, `/remove`; `POST /v1/signup/verify` | API key; the link page and sign-up need none (the tenant is in the link, the console in the route) |
//! | `resend_routes`       | `POST /v1/auth/resend`                                        | API key                          |
//! | `token_routes`        | `POST /v1/token/refresh`, `POST /v1/token/revoke`; `POST /v1/token/introspect` | API key + the refresh token; introspection: secret key + the access token |
//! | `device_routes`       | `POST/GET /v1/devices`, `DELETE /v1/devices/{id}`             | API key (`x-api-key`) + access token (`Authorization: Bearer`) |
//! | `tenant_api_routes`   | `GET/PATCH /v1/tenant`, `GET/POST /v1/api_keys`, `GET /v1/api_keys/{id}`, `POST /v1/api_keys/{id}/revoke`, `…/rotate`, `GET/POST /v1/members`, `PATCH/DELETE /v1/members/{id}`, `GET /v1/invitations`, `DELETE /v1/invitations/{id}`; `GET /v1/memberships`, `POST /v1/memberships/accept`, `DELETE /v1/memberships/{tenant}`; `POST /v1/signup/tenant` | secret key, or a member's console token + `AuthKit-Tenant` within the role; memberships and sign-up's tenant: the console token |
//! | `admin_routes`        | `/admin/v1/tenants…`: create, list, get, update, suspend, reactivate, delete; a tenant's keys and owners; `/admin/v1/console`; `/admin/v1/signup/invitations` | operator: IAM (SigV4) in AWS, the local operator token |
//! | `user_routes`         | `GET /v1/users`, `GET/DELETE /v1/users/{id}`, `POST /v1/users/{id}/disable` and `/enable`, `GET /v1/users/{id}/devices`, `/sessions`, `/export`, `POST /v1/users/{id}/sessions/revoke`, `GET /v1/audit-events`, `/v1/audit-events/export` | secret key, or a member's console token within the role |
//! | `health_routes`       | `GET /health`, `/live`, `/ready`                              | none                             |
//! | `discovery_routes`    | `GET /.well-known/jwks.json`, `/.well-known/openid-configuration`, `/openapi.json` | none |
//!
//! A publishable key is safe to ship in a browser or app: every sign-in route accepts it,
//! because each one also needs a secret the end user holds (a code, a link, a refresh or
//! access token); from a browser, only from the tenant's allowed origins. Secret keys are
//! for servers and never accepted from a browser (an `Origin` header): routes that act
//! without such a secret (introspection, Cognito sign-up, the tenant API) take
//! [`SecretKeyCaller`]. CORS is answered here ([`cors`]), per tenant.
//!
//! Every response of a route that hands out or reveals tokens or credentials (verify,
//! device sign-in, the token and device routes) carries `Cache-Control: no-store` and
//! `Pragma: no-cache`; every other response carries `no-store` too unless its route sets
//! its own caching, and every response carries `X-Content-Type-Options: nosniff`.

mod admin_dto;
mod auth;
mod body;
mod cors;
mod dto;
mod edge;
mod link_csrf;
mod link_page;
mod members_dto;
mod no_store;
mod observability;
pub mod openapi;
mod operator;
mod problem;
mod routes;
mod tenancy_dto;
mod tenant_auth;

use std::sync::Arc;

use authkit_domain::service::PublishedKeys;
use authkit_domain::store::AuditLog;
use authkit_domain::AuthKit;
use axum::middleware::map_response;
use axum::routing::{delete, get, post};

use axum::Router;
use operator::AdminState;

pub use auth::{bearer, SecretKeyCaller, TenantCaller};
pub use body::JsonBody;
pub use dto::ChallengeResponse;
pub use edge::{with_edge, ClientIpSource, Edge, PeerAddr, ORIGIN_SECRET_HEADER};
pub use no_store::secure_headers;
pub use observability::PlatformRequestId;
pub use operator::{IamCaller, OperatorAuth};
pub use problem::Problem;
pub use tenant_auth::{operation, TENANT_HEADER};

/// Request bodies larger than this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

type State = Arc<AuthKit>;

/// Every route on one router, the operator API included: the local server and tests.
pub fn router(authkit: Arc<AuthKit>, operator: OperatorAuth) -> Router {
    let signing_in = [start, verify, resend, tokens, devices, tenant_api, users]
        .into_iter()
        .fold(Router::new(), |merged, group| merged.merge(group()))
        .with_state(authkit.clone());
    finish(
        signing_in
            .merge(health().with_state(authkit.readiness_probe()))
            .merge(admin().with_state(AdminState {
                authkit: authkit.clone(),
                operator,
            }))
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

pub fn tenant_api_routes(authkit: Arc<AuthKit>) -> Router {
    finish(tenant_api().with_state(authkit))
}

/// The operator API, on its own (in AWS: its own HTTP API with IAM authorization).
pub fn admin_routes(authkit: Arc<AuthKit>, operator: OperatorAuth) -> Router {
    finish(admin().with_state(AdminState { authkit, operator }))
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
        .route("/v1/signup", post(routes::signup::start))
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
            "/v1/signup/verify",
            post(routes::signup::verify).layer(no_store()),
        )
        .route(
            "/v1/me/identifier/verify",
            post(routes::me::verify_identifier_change).layer(no_store()),
        )
        .route(
            "/v1/me/identifier/remove",
            post(routes::me::remove_identifier),
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

fn tenant_api() -> Router<State> {
    use routes::{members, tenant};
    Router::new()
        .route("/v1/tenant", get(tenant::get).patch(tenant::update))
        .route(
            "/v1/api_keys",
            get(tenant::list_keys).post(tenant::create_key),
        )
        .route("/v1/api_keys/{id}", get(tenant::get_key))
        .route("/v1/api_keys/{id}/revoke", post(tenant::revoke_key))
        .route("/v1/api_keys/{id}/rotate", post(tenant::rotate_key))
        .route("/v1/members", get(members::list).post(members::invite))
        .route(
            "/v1/members/{id}",
            axum::routing::patch(members::set_role).delete(members::remove),
        )
        .route("/v1/invitations", get(members::invitations))
        .route("/v1/invitations/{id}", delete(members::revoke_invitation))
        .route("/v1/memberships", get(members::mine))
        .route("/v1/memberships/accept", post(members::accept))
        .route("/v1/memberships/{tenant}", delete(members::leave))
        // Creates a tenant: served where the registry may be written (decisions 111, 150).
        .route("/v1/signup/tenant", post(routes::signup::create_tenant))
        .route_layer(map_response(no_store::forbid_caching))
}

fn admin() -> Router<AdminState> {
    use routes::{admin, console};
    Router::new()
        .route(
            "/admin/v1/tenants",
            get(admin::list_tenants).post(admin::create_tenant),
        )
        .route(
            "/admin/v1/tenants/{id}",
            get(admin::get_tenant)
                .patch(admin::update_tenant)
                .delete(admin::delete_tenant),
        )
        .route(
            "/admin/v1/tenants/{id}/suspend",
            post(admin::suspend_tenant),
        )
        .route(
            "/admin/v1/tenants/{id}/reactivate",
            post(admin::reactivate_tenant),
        )
        .route(
            "/admin/v1/tenants/{id}/api_keys",
            get(admin::list_keys).post(admin::create_key),
        )
        .route(
            "/admin/v1/tenants/{id}/api_keys/{key_id}/revoke",
            post(admin::revoke_key),
        )
        .route(
            "/admin/v1/tenants/{id}/api_keys/{key_id}/rotate",
            post(admin::rotate_key),
        )
        .route(
            "/admin/v1/tenants/{id}/owners",
            post(console::restore_owner),
        )
        .route("/admin/v1/console", post(console::bootstrap))
        .route(
            "/admin/v1/signup/invitations",
            get(console::signup_invitations).post(console::invite_to_sign_up),
        )
        .route(
            "/admin/v1/signup/invitations/{id}",
            delete(console::revoke_signup_invitation),
        )
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
/// limit (a declared length over it is refused before the body is read), CORS, and one log
/// line per request. Public so that routes outside this crate
/// (Cognito sign-up) behave the same.
pub fn finish(routes: Router) -> Router {
    routes
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(cors::cors))
        .layer(axum::middleware::from_fn(body::refuse_declared_oversize))
        .layer(axum::middleware::from_fn(observability::log_request))
}
