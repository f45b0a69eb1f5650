//! What only the local server has: a demo tenant, the dev outbox route and a callback page
//! for magic links. Never part of a Lambda function.

use std::sync::Arc;

use authkit_app::App;
use authkit_delivery::Outbox;
use authkit_domain::service::{Actor, CreatedTenant};
use authkit_domain::tenant::{TenantId, TenantPolicy, TenantSettings, WebOrigin};
use authkit_domain::AuthError;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;

pub const DEMO_TENANT: &str = "demo";

/// The demo tenant's policy: the defaults, or the JSON file named by `AUTHKIT_DEMO_POLICY`
/// (fields left out keep their defaults; the benchmark uses it to lift rate limits).
pub fn demo_policy() -> Result<TenantPolicy, String> {
    match std::env::var("AUTHKIT_DEMO_POLICY") {
        Ok(path) => crate::admin::read_policy(&path, "AUTHKIT_DEMO_POLICY"),
        Err(_) => Ok(TenantPolicy::default()),
    }
}

/// Redirect URIs the demo tenant allows besides `/dev/callback`: the absolute URLs in
/// `AUTHKIT_DEMO_REDIRECT_URIS`, separated by commas or spaces, so an app on another
/// origin (the browser test's, or one being developed) can receive magic links.
pub fn demo_redirect_uris() -> Result<Vec<String>, String> {
    parse_redirect_uris(&std::env::var("AUTHKIT_DEMO_REDIRECT_URIS").unwrap_or_default())
}

fn parse_redirect_uris(raw: &str) -> Result<Vec<String>, String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|uri| !uri.is_empty())
        .map(|uri| {
            url::Url::parse(uri)
                .map(String::from)
                .map_err(|e| format!("AUTHKIT_DEMO_REDIRECT_URIS: `{uri}`: {e}"))
        })
        .collect()
}

/// Creates the `demo` tenant unless it exists (in any state). Its keys can only be shown
/// when created. Browsers may use its publishable key from the server's own origin and
/// from the origins of its redirect URIs (an app being developed).
pub async fn ensure_demo_tenant(
    app: &App,
    policy: TenantPolicy,
    extra_redirect_uris: Vec<String>,
) -> Result<Option<CreatedTenant>, String> {
    match app.authkit.managed_tenant(DEMO_TENANT).await {
        Ok(_) => return Ok(None),
        Err(AuthError::TenantNotFound) => {}
        Err(error) => return Err(format!("cannot read the demo tenant: {error}")),
    }
    let callback = format!(
        "{}/dev/callback",
        app.authkit.settings().public_base_url.trim_end_matches('/')
    );
    let redirect_uris: Vec<String> = std::iter::once(callback)
        .chain(extra_redirect_uris)
        .collect();
    let mut origins: Vec<WebOrigin> = redirect_uris
        .iter()
        .filter_map(|uri| url::Url::parse(uri).ok())
        .filter_map(|uri| WebOrigin::parse(&uri.origin().ascii_serialization()).ok())
        .collect();
    origins.sort();
    origins.dedup();
    let settings = TenantSettings {
        allowed_origins: Some(origins),
        ..TenantSettings::new("AuthKit Demo".to_owned(), redirect_uris, policy)
    };
    let id = TenantId::parse(DEMO_TENANT).map_err(|e| e.to_string())?;
    app.authkit
        .create_tenant_as(&Actor::System, id, settings, None)
        .await
        .map(Some)
        .map_err(|error| format!("cannot create the demo tenant: {error}"))
}

/// Creates the console tenant (tenant members sign in to it) unless it exists; browsers
/// may use it from the server's own origin (decision 128).
pub async fn ensure_console_tenant(app: &App) -> Result<Option<CreatedTenant>, String> {
    let base = &app.authkit.settings().public_base_url;
    let origins = url::Url::parse(base)
        .ok()
        .and_then(|url| WebOrigin::parse(&url.origin().ascii_serialization()).ok())
        .into_iter()
        .collect();
    app.authkit
        .ensure_console_tenant(&Actor::System, origins)
        .await
        .map_err(|error| format!("cannot create the console tenant: {error}"))
}

/// What the banner says about the console tenant: its publishable key when this start
/// created it. Part of the banner, which a reader may stop reading after its last line.
fn print_console(console: Option<&CreatedTenant>) {
    let id = authkit_domain::member::CONSOLE_TENANT;
    match console {
        Some(created) => println!(
            "  console tenant `{id}` (tenant members sign in here), key (publishable): {}",
            created.publishable_key.reveal()
        ),
        None => {
            println!("  console tenant `{id}` exists (its keys were printed when it was created)")
        }
    }
}

/// What the banner says about the operator API: the token, and where the CLI finds it.
pub struct OperatorBanner<'a> {
    pub token: &'a str,
    pub file: &'a std::path::Path,
}

pub fn print_banner(
    url: &str,
    app: &App,
    demo: Option<&CreatedTenant>,
    console: Option<&CreatedTenant>,
    operator: &OperatorBanner<'_>,
) {
    println!("\nAuthKit is running at {url}");
    match demo {
        Some(created) => {
            println!("  demo tenant `{DEMO_TENANT}`");
            println!("    publishable key: {}", created.publishable_key.reveal());
            println!("    secret key:      {}", created.secret_key.reveal());
        }
        None => println!(
            "  demo tenant `{DEMO_TENANT}` exists (its keys were printed when it was created)"
        ),
    }
    print_console(console);
    if app.outbox.is_some() {
        println!("  codes and magic links are printed here and listed at {url}/dev/outbox");
    }
    println!("  operator token:    {}", operator.token);
    println!(
        "    (for {url}/admin/v1; also in {}, where `authkit --url {url} tenants list` reads it)",
        operator.file.display()
    );
    println!("  try it (paste the lines into a shell):");
    let key = demo.map(|created| created.publishable_key.reveal());
    for line in try_lines(url, key.as_deref(), app.outbox.is_some()) {
        println!("    {line}");
    }
    println!();
}

/// A sign-in as shell lines that run as printed: start, read the code, verify. Without the
/// demo key (the tenant already existed) or the outbox, a variable stands in for it.
fn try_lines(url: &str, publishable_key: Option<&str>, outbox: bool) -> Vec<String> {
    const TO: &str = "you@example.com";
    let mut lines = Vec::new();
    let key = match publishable_key {
        Some(key) => key.to_owned(),
        None => {
            lines.push("KEY=...   # the demo tenant's publishable key".to_owned());
            "$KEY".to_owned()
        }
    };
    let headers = format!("-H \"x-api-key: {key}\" -H 'content-type: application/json'");
    lines.push(format!(
        "CHALLENGE=$(curl -s {url}/v1/auth/start {headers} -d '{{\"identifier\":\"{TO}\"}}' \
         | sed 's/.*\"challenge_id\":\"\\([^\"]*\\)\".*/\\1/')"
    ));
    lines.push(if outbox {
        format!("CODE=$(curl -s '{url}/dev/outbox/latest?to={TO}')   # the newest code sent there")
    } else {
        format!("CODE=...   # the code sent to {TO}")
    });
    lines.push(format!(
        "curl -s {url}/v1/auth/verify {headers} \
         -d '{{\"challenge_id\":\"'\"$CHALLENGE\"'\",\"code\":\"'\"$CODE\"'\"}}'"
    ));
    lines
}

/// `GET /dev/outbox?to=alice@example.com`: only the messages to that destination.
#[derive(serde::Deserialize)]
struct OutboxFilter {
    to: Option<String>,
}

/// `GET /dev/outbox/latest?to=alice@example.com`: the code or link of the newest message.
#[derive(serde::Deserialize)]
struct LatestTo {
    to: String,
}

const OUTBOX_OFF: &str = "the dev outbox is off (AUTHKIT_DELIVERY is not outbox)\n";

pub fn routes(app: &App) -> Router {
    let outbox = app.outbox.clone();
    let own_host = url::Url::parse(&app.authkit.settings().public_base_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned));
    Router::new()
        .route("/dev/outbox", get(outbox_messages))
        .route("/dev/outbox/latest", get(outbox_latest))
        .with_state(outbox)
        .route("/dev/callback", get(callback))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            let own_host = own_host.clone();
            async move { only_for_this_machine(own_host.as_deref(), request, next).await }
        }))
}

/// The dev routes answer only requests addressed to this machine by name: a loopback name
/// or address, or the host of the server's own URL. A page on another origin whose name
/// its owner re-points at 127.0.0.1 (DNS rebinding) sends its own name as `Host`, so it
/// cannot read the outbox, which holds every code and link sent.
async fn only_for_this_machine(own_host: Option<&str>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(&format!("http://{value}/")).ok())
        .and_then(|url| url.host_str().map(str::to_owned));
    let allowed = host.as_deref().is_some_and(|host| {
        host == "localhost"
            || own_host == Some(host)
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if allowed {
        next.run(request).await
    } else {
        authkit_api::Problem::new(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            "the dev routes answer only requests to localhost or this server's own address",
        )
        .into_response()
    }
}

type OutboxState = State<Option<Arc<Outbox>>>;

async fn outbox_messages(
    State(outbox): OutboxState,
    Query(filter): Query<OutboxFilter>,
) -> Response {
    match outbox {
        Some(outbox) => Json(outbox.messages(filter.to.as_deref())).into_response(),
        None => (StatusCode::NOT_FOUND, OUTBOX_OFF).into_response(),
    }
}

/// Plain text, so a shell can take it as is: `CODE=$(curl -s '…/dev/outbox/latest?to=…')`.
async fn outbox_latest(State(outbox): OutboxState, Query(query): Query<LatestTo>) -> Response {
    let Some(outbox) = outbox else {
        return (StatusCode::NOT_FOUND, OUTBOX_OFF).into_response();
    };
    match outbox.latest(&query.to) {
        Some(message) => format!("{}\n", message.secret).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("nothing kept for {}\n", query.to),
        )
            .into_response(),
    }
}

/// Where the demo tenant's magic links land. The one-time result arrives in the URL's
/// fragment, which only the page sees, so a small script shows the exchange to run.
async fn callback() -> Html<&'static str> {
    Html(CALLBACK_PAGE)
}

const CALLBACK_PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>AuthKit demo callback</title>
<h1>Magic link confirmed</h1><p>The app now exchanges this one-time result for tokens:</p>
<pre id="exchange">(this address carries no result)</pre>
<p>Started with a <code>code_challenge</code>? Add <code>"code_verifier":"…"</code> to the body.</p>
<script>
  const fragment = new URLSearchParams(location.hash.slice(1));
  const result = fragment.get('authkit_result') ?? new URLSearchParams(location.search).get('authkit_result');
  history.replaceState(null, '', location.pathname);
  if (result && /^[A-Za-z0-9_.-]+$/.test(result)) {
    document.getElementById('exchange').textContent =
      `curl -s ${location.origin}/v1/auth/verify -H 'x-api-key: <publishable key>' -H 'content-type: application/json' -d '{"result":"${result}"}'`;
  }
</script>"#;

#[cfg(test)]
mod tests {
    use super::parse_redirect_uris;

    #[test]
    fn demo_redirect_uris_are_absolute_urls_separated_by_commas_or_spaces() {
        assert_eq!(
            parse_redirect_uris("http://localhost:3000/cb, https://app.example.com/cb  ").unwrap(),
            ["http://localhost:3000/cb", "https://app.example.com/cb"]
        );
        assert!(parse_redirect_uris("").unwrap().is_empty());
        let error = parse_redirect_uris("/relative").unwrap_err();
        assert!(error.contains("AUTHKIT_DEMO_REDIRECT_URIS"), "{error}");
    }
}
