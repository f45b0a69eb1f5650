//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types.
//! A copy is committed at docs/openapi.json; a test fails when it is stale.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{link_page, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "AuthKit", description = "Passwordless sign-in: one-time codes, magic links, trusted devices.", version = "1.0.0"),
    paths(
        routes::sign_in::start,
        routes::sign_in::verify,
        routes::sign_in::resend,
        link_page::show,
        link_page::confirm,
        routes::devices::sign_in,
        routes::tokens::refresh,
        routes::tokens::revoke,
        routes::tokens::introspect,
        routes::devices::bind,
        routes::devices::list,
        routes::devices::revoke,
        routes::tenant::get,
        routes::tenant::update,
        routes::tenant::list_keys,
        routes::tenant::create_key,
        routes::tenant::get_key,
        routes::tenant::revoke_key,
        routes::tenant::rotate_key,
        routes::admin::list_tenants,
        routes::admin::create_tenant,
        routes::admin::get_tenant,
        routes::admin::update_tenant,
        routes::admin::delete_tenant,
        routes::admin::suspend_tenant,
        routes::admin::reactivate_tenant,
        routes::admin::list_keys,
        routes::admin::create_key,
        routes::admin::revoke_key,
        routes::admin::rotate_key,
        routes::console::bootstrap,
        routes::console::restore_owner,
        routes::console::invite_to_sign_up,
        routes::console::signup_invitations,
        routes::console::revoke_signup_invitation,
        routes::members::list,
        routes::members::invite,
        routes::members::set_role,
        routes::members::remove,
        routes::members::invitations,
        routes::members::revoke_invitation,
        routes::members::mine,
        routes::members::accept,
        routes::members::leave,
        routes::signup::start,
        routes::signup::verify,
        routes::signup::create_tenant,
        routes::me::change_identifier,
        routes::me::verify_identifier_change,
        routes::me::remove_identifier,
        routes::users::find,
        routes::users::get,
        routes::users::disable,
        routes::users::enable,
        routes::users::devices,
        routes::users::sessions,
        routes::users::revoke_sessions,
        routes::users::export,
        routes::users::erase,
        routes::audit::list,
        routes::audit::export,
        routes::health::health,
        routes::health::ready,
        routes::discovery::jwks,
        routes::discovery::openid_configuration,
        routes::discovery::openapi,
    ),
    modifiers(&Security, &MemberAccess, &ProblemResponses)
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
        components.add_security_scheme(
            "member",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A tenant member's access token from the console tenant (`console`), \
                         with the header `AuthKit-Tenant: <tenant id>` naming the tenant acted \
                         on. Allowed from a browser on the console's origins; the member's role \
                         must cover the operation (else 403 `role_forbidden`), and a tenant \
                         they are not a member of is not found (404).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Locally: the operator token the local server prints at start. In AWS the \
                         operator API is its own API Gateway HTTP API with IAM authorization: \
                         requests are signed with SigV4 (service `execute-api`) instead.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the member's token as a second way in to every tenant-API operation a role may
/// call, naming the least role: the table in `tenant_auth` is the one source.
struct MemberAccess;

impl Modify for MemberAccess {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use axum::http::Method;
        use utoipa::openapi::security::SecurityRequirement;
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PATCH, &mut item.patch),
                (Method::DELETE, &mut item.delete),
            ];
            for (method, operation) in operations {
                let (Some(operation), Some(needs)) = (
                    operation.as_mut(),
                    crate::tenant_auth::operation(&method, path),
                ) else {
                    continue;
                };
                let security = operation.security.get_or_insert_with(Vec::new);
                let member = SecurityRequirement::new::<_, _, &str>("member", []);
                if !security.contains(&member) {
                    security.push(member);
                }
                let note = format!(
                    "\n\nMembers: role `{}` or above.",
                    needs.least_role().as_str()
                );
                let description = operation.description.get_or_insert_with(String::new);
                description.push_str(&note);
            }
        }
    }
}

/// Documents the problem responses the router gives every operation, so no handler has to
/// repeat them: a request body can be malformed, too large or not JSON (4XX), an API key or
/// access token missing or wrong (4XX), a path parameter malformed (4XX), and anything that
/// reads the store can find it unavailable (5XX).
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let takes_input = operation.request_body.is_some()
                    || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                if (takes_input || authenticated) && !responses.contains_key("4XX") {
                    responses.insert(
                        "4XX".to_owned(),
                        problem("The request was refused; `code` says why").into(),
                    );
                }
                if authenticated && !responses.contains_key("5XX") {
                    responses.insert(
                        "5XX".to_owned(),
                        problem("A dependency (store, keys, delivery) is unavailable").into(),
                    );
                }
            }
        }
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
            "/v1/auth/link",
            "/v1/token/refresh",
            "/v1/token/introspect",
            "/v1/devices",
            "/v1/devices/{id}",
            "/v1/tenant",
            "/v1/api_keys",
            "/v1/api_keys/{id}/rotate",
            "/admin/v1/tenants",
            "/admin/v1/tenants/{id}/suspend",
            "/v1/users",
            "/v1/users/{id}",
            "/v1/users/{id}/export",
            "/v1/audit-events",
            "/v1/audit-events/export",
            "/v1/members",
            "/v1/members/{id}",
            "/v1/invitations",
            "/v1/invitations/{id}",
            "/v1/memberships",
            "/admin/v1/console",
            "/admin/v1/tenants/{id}/owners",
            "/admin/v1/signup/invitations",
            "/admin/v1/signup/invitations/{id}",
            "/v1/signup",
            "/v1/signup/verify",
            "/v1/signup/tenant",
            "/.well-known/jwks.json",
        ] {
            assert!(document["paths"].get(path).is_some(), "{path} is missing");
        }
    }

    /// A tenant-API route without an operation would be closed to every member: each one
    /// the document lists for a secret key is in the role table.
    #[test]
    fn every_tenant_api_operation_has_a_role() {
        let document = serde_json::to_value(super::document()).unwrap();
        let tenant_api = [
            "/v1/tenant",
            "/v1/api_keys",
            "/v1/users",
            "/v1/audit-events",
            "/v1/members",
            "/v1/invitations",
        ];
        for (path, item) in document["paths"].as_object().unwrap() {
            let under = |prefix: &&str| path == prefix || path.starts_with(&format!("{prefix}/"));
            if !tenant_api.iter().any(under) {
                continue;
            }
            for (method, _) in item.as_object().unwrap() {
                let method =
                    axum::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                assert!(
                    crate::tenant_auth::operation(&method, path).is_some(),
                    "{method} {path} has no role"
                );
            }
        }
    }
}
