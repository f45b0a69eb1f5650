//! The page a magic link opens. Mail scanners and link previewers open every link in an
//! email, so opening it (GET or HEAD) changes nothing: it shows a button, and only that
//! button's POST, from this page in this browser (`link_csrf`), verifies the link and
//! sends the browser back to the app.

use authkit_domain::AuthError;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

use authkit_domain::html::escape_html;

use crate::body::{FormBody, QueryParams};
use crate::link_csrf::{self, PageOrigin};
use crate::problem::Problem;

/// What a magic link carries (decision 8).
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub(crate) struct LinkParams {
    tenant: String,
    challenge_id: String,
    token: String,
}

/// What the page's form posts: the link, and the page token its cookie must match.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfirmForm {
    #[serde(flatten)]
    link: LinkParams,
    #[schema(nullable = false)]
    page_token: Option<String>,
}

/// The policy of every response here: no scripts, nothing loaded, never framed, and no
/// form may submit anywhere.
const LOCKED_DOWN: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Referrer policy of the responses that lead elsewhere: the link's URL holds its token.
const NO_REFERRER: &str = "no-referrer";

/// Referrer policy of the confirmation page. Its form's POST must carry a real `Origin`
/// (browsers send `Origin: null` under `no-referrer`); the page loads and links to
/// nothing, so its URL still reaches no other origin.
const SAME_ORIGIN_REFERRER: &str = "same-origin";

/// Headers for every response here: never cached, never framed, never leaking the URL (it
/// holds the token) to another origin through a Referer, no scripts at all.
fn protect(mut response: Response, policy: HeaderValue, referrer: &'static str) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CACHE_CONTROL, "no-store");
    set(header::REFERRER_POLICY, referrer);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    response
}

/// The confirmation page's policy. Its form posts to this origin, whose answer redirects
/// to the app; Chromium applies `form-action` to that redirect too, so the app's origin
/// (or, for an app's own URL scheme, that scheme) is allowed as well, and nothing else.
fn confirm_page_policy(destination: &str) -> Option<HeaderValue> {
    let url = Url::parse(destination).ok()?;
    let source = match url.origin() {
        origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
        url::Origin::Opaque(_) => format!("{}:", url.scheme()),
    };
    HeaderValue::from_str(&format!("default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {source}; frame-ancestors 'none'; base-uri 'none'")).ok()
}

/// The page a magic link opens: a button whose POST confirms the sign-in. Opening it
/// changes nothing (mail scanners open every link); reading the challenge tells the page
/// where the confirmation will go, or why the link can no longer be confirmed.
#[utoipa::path(get, path = "/v1/auth/link", operation_id = "magic_link_page", params(LinkParams),
    responses(
        (status = 200, description = "The confirmation page", content_type = "text/html", body = String),
        (status = "4XX", description = "Parameters missing (a problem), or a link that cannot be confirmed (a page saying why)",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = "5XX", description = "A dependency is unavailable (a page saying so)", content_type = "text/html", body = String)))]
pub(crate) async fn show(
    State(authkit): State<crate::State>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<LinkParams>,
) -> Response {
    let destination = async {
        let tenant = authkit.tenant(&params.tenant).await?;
        authkit
            .magic_link_destination(&tenant, &params.challenge_id)
            .await
    }
    .await;
    let policy = match destination.map(|uri| confirm_page_policy(&uri)) {
        Ok(Some(policy)) => policy,
        Ok(None) => return error_page(AuthError::RedirectNotAllowed.into()),
        Err(error) => return error_page(error.into()),
    };
    let page = PageOrigin::of(&authkit.settings().public_base_url);
    let (page_token, cookie) = page.page_token(&headers);
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
<form method="post" action="/v1/auth/link">{}{}{}{}
<button type="submit" style="font-size: 1rem; padding: .7rem 1.4rem; border: 0; border-radius: 6px; background: #111; color: #fff;">Sign in</button>
</form></body></html>"#,
        hidden("tenant", &params.tenant),
        hidden("challenge_id", &params.challenge_id),
        hidden("token", &params.token),
        hidden(link_csrf::FIELD, &page_token),
    );
    let mut response = protect(Html(body).into_response(), policy, SAME_ORIGIN_REFERRER);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The page's button: checks the POST came from the link's page in this browser (login
/// CSRF), then confirms the link and sends the browser to the app with a one-time result.
/// Not an API for apps: only the page posts here.
#[utoipa::path(post, path = "/v1/auth/link", operation_id = "confirm_magic_link",
    request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Confirmed: to the app's redirect URI with `authkit_result` in the fragment (or the query, when asked for)",
            headers(("location" = String, description = "The app's redirect URI with the result"))),
        (status = "4XX", description = "A malformed form (a problem), or a confirmation refused: not from the link's page (403), or a link that cannot be confirmed (a page saying why)",
            content((Problem = "application/problem+json"), (String = "text/html"))),
        (status = "5XX", description = "A dependency is unavailable (a page saying so)", content_type = "text/html", body = String)))]
pub(crate) async fn confirm(
    State(authkit): State<crate::State>,
    parts: axum::http::request::Parts,
    FormBody(form): FormBody<ConfirmForm>,
) -> Response {
    let page = PageOrigin::of(&authkit.settings().public_base_url);
    if !page.comes_from_page(&parts.headers, form.page_token.as_deref()) {
        return error_page(link_csrf::refused());
    }
    let params = form.link;
    let ip = crate::auth::client_ip(&parts);
    let outcome = async {
        let tenant = authkit.tenant(&params.tenant).await?;
        authkit
            .confirm_magic_link(&tenant, ip.as_deref(), &params.challenge_id, &params.token)
            .await
    }
    .await;
    match outcome {
        Ok(confirmed) => protect(
            Redirect::to(&confirmed.redirect_to).into_response(),
            HeaderValue::from_static(LOCKED_DOWN),
            NO_REFERRER,
        ),
        Err(error) => error_page(error.into()),
    }
}

/// The same statuses and codes as the JSON API, as a page a person can read.
fn error_page(problem: Problem) -> Response {
    let message = match problem.code {
        "challenge_expired" => {
            "This sign-in link has expired. Go back to the app and ask for a new one."
        }
        "challenge_used" | "challenge_exhausted" => {
            "This sign-in link was already used. Go back to the app and ask for a new one."
        }
        "cross_site_request" => {
            "This sign-in could not be confirmed from here. Open the link from your email again and press its button."
        }
        "rate_limited" => "Too many attempts. Wait a little and try again.",
        "unavailable" => "Sign-in is unavailable right now. Try again in a moment.",
        _ => "This sign-in link is not valid. Go back to the app and ask for a new one.",
    };
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in link</title></head><body style="font-family: sans-serif; max-width: 28rem; margin: 4rem auto;"><h1 style="font-size: 1.4rem;">Sign-in link</h1><p>{message}</p></body></html>"#
    );
    let mut response = protect(
        (status, Html(body)).into_response(),
        HeaderValue::from_static(LOCKED_DOWN),
        NO_REFERRER,
    );
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

    fn form_action(destination: &str) -> String {
        let policy = confirm_page_policy(destination).expect("a policy");
        let policy = policy.to_str().unwrap().to_owned();
        policy
            .split("; ")
            .find(|directive| directive.starts_with("form-action"))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_confirm_page_may_submit_to_itself_and_the_apps_origin_only() {
        assert_eq!(
            form_action("https://app.example.com/callback?x=1"),
            "form-action 'self' https://app.example.com"
        );
        assert_eq!(
            form_action("http://localhost:3000/cb"),
            "form-action 'self' http://localhost:3000"
        );
        assert_eq!(
            form_action("com.example.app:/callback"),
            "form-action 'self' com.example.app:"
        );
        assert!(confirm_page_policy("not a url").is_none());
    }

    #[test]
    fn the_link_page_tells_when_to_retry_an_unavailable_store() {
        let throttled = authkit_domain::store::StoreError::Throttled("throttled".into());
        let response = error_page(AuthError::Unavailable(throttled).into());
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
