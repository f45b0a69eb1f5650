use std::sync::Arc;

use authkit_domain::service::PublishedKeys;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

/// The public signing keys: every live key, so rotation never breaks a verifier.
#[utoipa::path(get, path = "/.well-known/jwks.json", responses((status = 200, description = "RFC 7517 JWK set")))]
pub(crate) async fn jwks(State(published): State<Arc<PublishedKeys>>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!(published.keys.jwks())),
    )
}

/// OpenID Connect discovery, enough for API Gateway JWT authorizers and OIDC libraries to
/// find the JWKS and check `iss`.
#[utoipa::path(get, path = "/.well-known/openid-configuration", responses((status = 200, description = "OpenID Provider Metadata")))]
pub(crate) async fn openid_configuration(
    State(published): State<Arc<PublishedKeys>>,
) -> impl IntoResponse {
    let issuer = &published.issuer;
    let document: Value = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer}/v1/token/refresh"),
        "response_types_supported": ["token"],
        "grant_types_supported": ["refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "amr", "client_id", "device_id"],
    });
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(document),
    )
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub(crate) async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
