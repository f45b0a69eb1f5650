//! The page a magic link opens. Mail scanners and link previewers open every link in an
//! email, so opening it (GET or HEAD) changes nothing: it shows a button, and only that
//! button's POST verifies the link and sends the browser back to the app.

use authkit_domain::AuthError;
use axum::extract::{Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use authkit_domain::html::escape_html;

use crate::body::FormBody;
use crate::problem::Problem;

#[derive(Debug, Deserialize)]
pub(crate) struct LinkParams {
    tenant: String,
    challenge_id: String,
    token: String,
}

/// Headers for both pages: never cached, never framed, never leaking the URL (it holds
/// the token) through a Referer, no scripts at all.
fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CACHE_CONTROL, "no-store");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    response
}

pub(crate) async fn show(Query(params): Query<LinkParams>) -> Response {
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape_html(value)
        )
    };
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>Confirm sign-in</title></head>
<body style="font-family: -apple-system, Segoe UI, Roboto, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #111;">
<h1 style="font-size: 1.4rem;">Confirm sign-in</h1>
<p>Press the button to finish signing in. If you did not ask to sign in, close this page.</p>
<form method="post" action="/v1/auth/link">{}{}{}
<button type="submit" style="font-size: 1rem; padding: .7rem 1.4rem; border: 0; border-radius: 6px; background: #111; color: #fff;">Sign in</button>
</form></body></html>"#,
        hidden("tenant", &params.tenant),
        hidden("challenge_id", &params.challenge_id),
        hidden("token", &params.token),
    );
    protect(Html(body).into_response())
}

pub(crate) async fn confirm(
    State(authkit): State<crate::State>,
    parts: axum::http::request::Parts,
    FormBody(params): FormBody<LinkParams>,
) -> Response {
    let ip = crate::auth::client_ip(&parts);
    let outcome = async {
        let tenant = authkit.tenant(&params.tenant).await?;
        authkit
            .confirm_magic_link(&tenant, ip.as_deref(), &params.challenge_id, &params.token)
            .await
    }
    .await;
    match outcome {
        Ok(confirmed) => protect(Redirect::to(&confirmed.redirect_to).into_response()),
        Err(error) => error_page(error),
    }
}

/// The same statuses and codes as the JSON API, as a page a person can read.
fn error_page(error: AuthError) -> Response {
    let problem = Problem::from(error);
    let message = match problem.code {
        "challenge_expired" => {
            "This sign-in link has expired. Go back to the app and ask for a new one."
        }
        "challenge_used" | "challenge_exhausted" => {
            "This sign-in link was already used. Go back to the app and ask for a new one."
        }
        "rate_limited" => "Too many attempts. Wait a little and try again.",
        "unavailable" => "Sign-in is unavailable right now. Try again in a moment.",
        _ => "This sign-in link is not valid. Go back to the app and ask for a new one.",
    };
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in link</title></head><body style="font-family: sans-serif; max-width: 28rem; margin: 4rem auto;"><h1 style="font-size: 1.4rem;">Sign-in link</h1><p>{message}</p></body></html>"#
    );
    let mut response = protect((status, Html(body)).into_response());
    response
        .extensions_mut()
        .insert(crate::problem::ProblemCode(problem.code));
    if let Some(secs) = problem.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_page_tells_when_to_retry_an_unavailable_store() {
        let throttled = authkit_domain::store::StoreError::Throttled("throttled".into());
        let response = error_page(AuthError::Unavailable(throttled));
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
