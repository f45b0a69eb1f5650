//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types.
//! A copy is committed at docs/openapi.json; a test fails when it is stale.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "AuthKit", description = "Passwordless sign-in: one-time codes, magic links, trusted devices.", version = "1.0.0"),
    paths(
        routes::sign_in::start,
        routes::sign_in::verify,
        routes::sign_in::resend,
        routes::devices::sign_in,
        routes::tokens::refresh,
        routes::tokens::revoke,
        routes::devices::bind,
        routes::devices::list,
        routes::devices::revoke,
        routes::health::health,
        routes::health::ready,
        routes::discovery::jwks,
        routes::discovery::openid_configuration,
        routes::discovery::openapi,
    ),
    modifiers(&Security)
)]
struct Document;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    Document::openapi()
}

#[cfg(test)]
mod tests {
    /// Regenerate with `UPDATE_OPENAPI=1 cargo test -p authkit-api openapi`.
    #[test]
    fn the_committed_openapi_document_matches_the_code() {
        let generated = super::document()
            .to_pretty_json()
            .expect("the document serialises")
            + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        if std::env::var("UPDATE_OPENAPI").is_ok() {
            std::fs::write(path, &generated).expect("docs/openapi.json is writable");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(committed == generated, "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p authkit-api openapi` and commit it");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let document = serde_json::to_value(super::document()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/v1/auth/start",
            "/v1/auth/verify",
            "/v1/auth/resend",
            "/v1/token/refresh",
            "/v1/devices",
            "/v1/devices/{id}",
            "/.well-known/jwks.json",
        ] {
            assert!(document["paths"].get(path).is_some(), "{path} is missing");
        }
    }
}
