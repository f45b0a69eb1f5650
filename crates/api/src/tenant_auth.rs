//! Who may call the tenant API: the tenant's servers with its secret key, or a tenant
//! member from a browser with their console access token, naming the tenant in the
//! `AuthKit-Tenant` header, within their role (decision 130).
//!
//! The role a route needs is looked up from the route itself ([`operation`]), so a route
//! missing from the table is refused to every member: a new route is closed until it is
//! given an operation (a test holds every documented tenant-API route to that).

use authkit_domain::member::{Operation, Role};
use authkit_domain::service::{Actor, Caller, RequestContext};
use authkit_domain::tenant::Tenant;
use authkit_domain::AuthError;
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{header, Method};

use crate::auth::{bearer, client_ip_addr, SecretKeyCaller};
use crate::cors::AllowedOrigin;
use crate::observability::RequestLog;
use crate::problem::Problem;
use crate::State;

/// The header a member names the tenant they act on with.
pub const TENANT_HEADER: &str = "authkit-tenant";

/// A tenant-API caller allowed this route: the tenant it acts for, from where, and who it
/// is for the audit log.
pub struct TenantApi {
    pub tenant: Tenant,
    pub ip: Option<String>,
    actor: Actor,
    /// A member's role; None for the tenant's secret key, which may do everything.
    role: Option<Role>,
}

impl TenantApi {
    /// An operation a route allows only in part (keys: secret ones are an owner's), judged
    /// once the part is known; 403 `role_forbidden` outside the member's role.
    pub fn permit(&self, operation: Operation) -> Result<(), AuthError> {
        self.role.map_or(Ok(()), |role| role.permit(operation))
    }

    pub fn caller(&self) -> Caller<'_> {
        Caller {
            tenant: &self.tenant,
            ip: self.ip.as_deref(),
        }
    }

    /// Who a change made by this caller is audited as.
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }
}

/// The extractor of the tenant API's routes.
pub struct TenantApiCaller(pub TenantApi);

impl FromRequestParts<State> for TenantApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, authkit: &State) -> Result<Self, Problem> {
        let member_token = bearer(&parts.headers).filter(|value| !value.starts_with("ak_"));
        let (Some(token), None) = (member_token, parts.headers.get("x-api-key")) else {
            // A key (or nothing): the server path, as before members.
            let SecretKeyCaller(caller) =
                SecretKeyCaller::from_request_parts(parts, authkit).await?;
            let actor = caller.actor();
            return Ok(TenantApiCaller(TenantApi {
                tenant: caller.tenant,
                ip: caller.ip,
                actor,
                role: None,
            }));
        };
        let tenant = parts
            .headers
            .get(TENANT_HEADER)
            .and_then(|value| value.to_str().ok());
        let origin = parts
            .headers
            .get(header::ORIGIN)
            .map(|value| value.to_str().unwrap_or("\u{fffd}"));
        let ip = client_ip_addr(parts);
        let context = RequestContext { origin, ip };
        let member = authkit.authenticate_member(token, tenant, &context).await?;
        if let Some(log) = parts.extensions.get::<RequestLog>() {
            log.set_tenant(member.tenant.id.as_str());
        }
        if let (Some(origin), Some(allowed)) = (
            &member.allowed_origin,
            parts.extensions.get::<AllowedOrigin>(),
        ) {
            allowed.allow(origin.as_str());
        }
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_default();
        let operation = operation(&parts.method, path).ok_or(AuthError::RoleForbids)?;
        member.permit(operation)?;
        Ok(TenantApiCaller(TenantApi {
            tenant: member.tenant,
            ip: ip.map(|ip| ip.to_string()),
            actor: Actor::Member(member.user),
            role: Some(member.role),
        }))
    }
}

/// What a tenant-API route does, as roles see it; None for a route no member may call.
pub fn operation(method: &Method, route: &str) -> Option<Operation> {
    use Operation::*;
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    Some(match (method, route) {
        ("GET", "/v1/tenant") => ReadSettings,
        ("PATCH", "/v1/tenant") => ChangeSettings,
        ("GET", "/v1/api_keys" | "/v1/api_keys/{id}") => ReadKeys,
        ("POST", "/v1/api_keys" | "/v1/api_keys/{id}/revoke" | "/v1/api_keys/{id}/rotate") => {
            ManageKeys
        }
        (
            "GET",
            "/v1/users" | "/v1/users/{id}" | "/v1/users/{id}/devices" | "/v1/users/{id}/sessions",
        ) => ReadUsers,
        (
            "POST",
            "/v1/users/{id}/disable" | "/v1/users/{id}/enable" | "/v1/users/{id}/sessions/revoke",
        ) => ManageUsers,
        ("GET", "/v1/users/{id}/export") | ("DELETE", "/v1/users/{id}") => ExportOrEraseUsers,
        ("GET", "/v1/audit-events" | "/v1/audit-events/export") => ReadAudit,
        ("GET", "/v1/members" | "/v1/invitations") => ReadMembers,
        ("POST", "/v1/members")
        | ("PATCH" | "DELETE", "/v1/members/{id}")
        | ("DELETE", "/v1/invitations/{id}") => ManageMembers,
        _ => return None,
    })
}

/// A signed-in console user, for the routes about their own memberships.
pub struct ConsoleCaller(pub authkit_domain::service::ConsoleUser);

impl FromRequestParts<State> for ConsoleCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, authkit: &State) -> Result<Self, Problem> {
        let token = bearer(&parts.headers)
            .filter(|value| !value.starts_with("ak_"))
            .ok_or(AuthError::MemberRequired)?;
        let origin = parts
            .headers
            .get(header::ORIGIN)
            .map(|value| value.to_str().unwrap_or("\u{fffd}"));
        let context = RequestContext {
            origin,
            ip: client_ip_addr(parts),
        };
        let user = authkit.console_user(token, &context).await?;
        if let (Some(origin), Some(allowed)) = (
            &user.allowed_origin,
            parts.extensions.get::<AllowedOrigin>(),
        ) {
            allowed.allow(origin.as_str());
        }
        Ok(ConsoleCaller(user))
    }
}
