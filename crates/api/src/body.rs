//! Request bodies (and the link page's query) as typed values, with every rejection (bad
//! JSON, wrong content type, unknown fields, oversized bodies, missing parameters) turned
//! into a problem instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A JSON body of type `T`. A value of the wrong shape is refused naming where it is
/// (`errors[0].pointer`, a JSON Pointer into the body).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                    _ => Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        rejection.body_text(),
                    ),
                })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let parsed = serde_path_to_error::deserialize(&mut deserializer);
        // Trailing characters after the value are a syntax error, like axum's `Json`.
        if parsed.is_ok() && deserializer.end().is_err() {
            return Err(malformed_json());
        }
        match parsed {
            Ok(value) => Ok(JsonBody(value)),
            Err(error) if error.inner().is_syntax() || error.inner().is_eof() => {
                Err(malformed_json())
            }
            Err(error) => {
                let pointer = authkit_domain::tenant::settings::json_pointer(error.path());
                // serde's message names the field and what was wrong, not the value.
                let detail = without_position(&error.inner().to_string());
                Err(
                    Problem::new(StatusCode::BAD_REQUEST, "invalid_request", detail.clone())
                        .at_field(&pointer, detail),
                )
            }
        }
    }
}

fn malformed_json() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "the body is not valid JSON",
    )
}

/// `application/json`, or a `+json` type (`application/merge-patch+json`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| {
            media == "application/json"
                || (media.starts_with("application/") && media.ends_with("+json"))
        })
}

/// serde_json ends its messages with the position, which means nothing to a client.
fn without_position(message: &str) -> String {
    match message.rsplit_once(" at line ") {
        Some((text, _)) => text.to_owned(),
        None => message.to_owned(),
    }
}

/// A form body (the magic-link page posts one).
pub(crate) struct FormBody<T>(pub T);

impl<S, T> FromRequest<S> for FormBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(FormBody(value)),
            Err(FormRejection::BytesRejection(error))
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(too_large())
            }
            Err(rejection) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                rejection.body_text(),
            )),
        }
    }
}

/// A body sent either form-encoded (what RFC 7662 specifies) or as JSON, by its
/// content type; anything else is refused with 415.
pub(crate) struct FormOrJson<T>(pub T);

impl<S, T> FromRequest<S> for FormOrJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value.split(';').next().is_some_and(|media| {
                    media
                        .trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if form {
            return FormBody::from_request(request, state)
                .await
                .map(|FormBody(value)| FormOrJson(value));
        }
        match JsonBody::from_request(request, state).await {
            Ok(JsonBody(value)) => Ok(FormOrJson(value)),
            Err(problem) if problem.code == "unsupported_media_type" => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/x-www-form-urlencoded or application/json",
            )),
            Err(problem) => Err(problem),
        }
    }
}

/// Query parameters (the magic link's page): a missing or malformed one is a problem.
pub(crate) struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                rejection.body_text(),
            )),
        }
    }
}

/// Path parameters: one that does not decode (not UTF-8 once percent-decoded) is a
/// problem like any other malformed request, not axum's plain-text rejection.
pub(crate) struct PathParam<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParam(value)),
            Err(rejection) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                rejection.body_text(),
            )),
        }
    }
}

/// Refuses a request whose `Content-Length` is over [`crate::MAX_BODY_BYTES`] from its
/// headers: the extractors' limit only trips once that much has arrived, and a client that
/// declares a large body and sends it slowly would hold the connection until then.
pub(crate) async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > crate::MAX_BODY_BYTES as u64 => too_large().into_response(),
        _ => next.run(request).await,
    }
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "request bodies are limited to {} bytes",
            crate::MAX_BODY_BYTES
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authkit_domain::memory::MemoryStore;
    use authkit_domain::service::{NewTenant, ServiceSettings, StaticKeys};
    use authkit_domain::tenant::{TenantId, TenantPolicy};
    use authkit_domain::token::KeyMaterial;
    use authkit_domain::{AuthKit, OsRandomness, SystemClock};
    use axum::body::Body;
    use axum::http::{header, Method, Request};
    use tower::ServiceExt;

    use crate::operator::OperatorAuth;

    /// A path segment that is not UTF-8 once percent-decoded (outside attack, session 18):
    /// every route with an id in its path answers it with a problem, like any other
    /// malformed request, not axum's plain-text rejection.
    #[tokio::test]
    async fn a_path_id_that_is_not_utf8_is_a_problem() {
        let authkit = Arc::new(AuthKit::new(
            MemoryStore::new().into_stores(),
            Arc::new(authkit_delivery::Outbox::new(4, true)),
            Arc::new(StaticKeys(Arc::new(KeyMaterial::generate(&OsRandomness)))),
            Arc::new(SystemClock),
            Arc::new(OsRandomness),
            ServiceSettings::new("http://localhost", "http://localhost"),
        ));
        let created = authkit
            .create_tenant(NewTenant {
                id: TenantId::parse("acme").unwrap(),
                name: "Acme".into(),
                allowed_redirect_uris: Vec::new(),
                policy: TenantPolicy::default(),
            })
            .await
            .unwrap();
        let secret = created.secret_key.reveal();
        let router = crate::router(authkit, OperatorAuth::token("operator"));
        let tenant_api = [
            (Method::DELETE, "/v1/invitations/%FF"),
            (Method::DELETE, "/v1/members/%FF"),
            (Method::PATCH, "/v1/members/%FF"),
            (Method::GET, "/v1/api_keys/%FF"),
            (Method::POST, "/v1/api_keys/%FF/revoke"),
            (Method::GET, "/v1/users/%FF"),
            (Method::DELETE, "/v1/users/%C0%AF"),
        ];
        let admin = [
            (Method::GET, "/admin/v1/tenants/%FF"),
            (Method::POST, "/admin/v1/tenants/%FF/suspend"),
            (Method::POST, "/admin/v1/tenants/acme/api_keys/%FF/revoke"),
        ];
        let requests = tenant_api
            .into_iter()
            .map(|route| (route, format!("Bearer {secret}")))
            .chain(
                admin
                    .into_iter()
                    .map(|route| (route, "Bearer operator".to_owned())),
            );
        for ((method, path), authorization) in requests {
            let request = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(header::AUTHORIZATION, authorization)
                .header(header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", "k1")
                .body(Body::from(r#"{"role":"viewer"}"#))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
            assert_eq!(
                content_type.as_ref().and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{method} {path}: {}",
                response.status()
            );
            assert!(response.status().is_client_error(), "{method} {path}");
        }
    }
}
