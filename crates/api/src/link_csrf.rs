//! Login CSRF defence for the magic link's confirmation POST. Without it, an attacker
//! who starts a sign-in for their own address can make a victim's browser post that
//! link's confirmation from another site, and the victim lands in the app signed in to the
//! attacker's account.
//!
//! Two independent checks, both required (decision 64):
//! - the browser's own word: `Sec-Fetch-Site` must be `same-origin` and `Origin` this
//!   origin, whenever they are sent (every current browser sends at least one on a POST);
//! - a double-submit token for browsers that send neither: the page sets a random value in
//!   a `SameSite=Strict`, `HttpOnly` cookie and in a hidden field, and the POST must carry
//!   both, equal. Another site can neither read the cookie nor make the browser send it.

use authkit_domain::secret::OpaqueSecret;
use authkit_domain::OsRandomness;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use subtle::ConstantTimeEq;

use crate::problem::Problem;

/// The form field that carries the page token.
pub(crate) const FIELD: &str = "page_token";

/// A cookie's lifetime: long enough to read the email and press the button.
const MAX_AGE_SECS: u32 = 3600;

/// Where the confirmation page is served from, as the browser sees it.
pub(crate) struct PageOrigin {
    origin: String,
    secure: bool,
}

impl PageOrigin {
    /// From the public base URL magic links point to.
    pub(crate) fn of(public_base_url: &str) -> PageOrigin {
        let url = url::Url::parse(public_base_url).ok();
        PageOrigin {
            origin: url
                .as_ref()
                .map(|url| url.origin().ascii_serialization())
                .unwrap_or_default(),
            secure: url.is_some_and(|url| url.scheme() == "https"),
        }
    }

    /// `__Host-` pins the cookie to this host (no subdomain can plant one), but needs
    /// `Secure`, which plain-http local runs cannot set.
    fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-authkit_link"
        } else {
            "authkit_link"
        }
    }

    /// The page token to put in the form: the browser's current one (so two open link
    /// pages share it), else a fresh one, with the cookie that carries it.
    pub(crate) fn page_token(&self, request: &HeaderMap) -> (String, HeaderValue) {
        let token = self
            .cookie(request)
            .filter(|value| OpaqueSecret::parse(value).is_ok())
            .unwrap_or_else(|| OpaqueSecret::generate(&OsRandomness).expose().to_owned());
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={token}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Strict{secure}",
            self.cookie_name()
        );
        let cookie = HeaderValue::from_str(&cookie).expect("a cookie of URL-safe characters");
        (token, cookie)
    }

    /// True when a confirmation came from the link's page in this browser.
    pub(crate) fn comes_from_page(&self, request: &HeaderMap, form_token: Option<&str>) -> bool {
        let sent = |name: &str| request.get(name).map(HeaderValue::as_bytes);
        let site_ok = sent("sec-fetch-site").is_none_or(|site| site == b"same-origin");
        let origin_ok = sent("origin").is_none_or(|origin| origin == self.origin.as_bytes());
        let cookie = self.cookie(request).unwrap_or_default();
        let form_token = form_token.unwrap_or_default();
        let token_ok =
            !cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(form_token.as_bytes()));
        site_ok && origin_ok && token_ok
    }

    fn cookie(&self, request: &HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        request
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }
}

/// The answer to a confirmation that did not come from its page.
pub(crate) fn refused() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        "a sign-in can only be confirmed from its link's own page",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_page_token_is_kept_across_pages_and_carried_by_a_host_only_cookie_on_https() {
        let page = PageOrigin::of("https://auth.example.com/base");
        let (token, cookie) = page.page_token(&HeaderMap::new());
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with(&format!("__Host-authkit_link={token}; Path=/;")),
            "{cookie}"
        );
        assert!(
            cookie.contains("HttpOnly; SameSite=Strict; Secure"),
            "{cookie}"
        );
        let again = headers(&[("cookie", &format!("a=b; __Host-authkit_link={token}"))]);
        assert_eq!(page.page_token(&again).0, token);
        let junk = headers(&[("cookie", "__Host-authkit_link=<script>")]);
        assert_ne!(page.page_token(&junk).0, "<script>");
        let local = PageOrigin::of("http://127.0.0.1:8080");
        assert!(!local
            .page_token(&HeaderMap::new())
            .1
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn only_a_same_origin_post_with_the_pages_token_passes() {
        let page = PageOrigin::of("https://auth.example.com");
        let token = "t0ken";
        let cookie = format!("__Host-authkit_link={token}");
        let ok = |pairs: &[(&'static str, &str)], form: Option<&str>| {
            page.comes_from_page(&headers(pairs), form)
        };
        assert!(ok(
            &[
                ("cookie", &cookie),
                ("origin", "https://auth.example.com"),
                ("sec-fetch-site", "same-origin")
            ],
            Some(token)
        ));
        assert!(
            ok(&[("cookie", &cookie)], Some(token)),
            "a browser without Origin or fetch metadata"
        );
        assert!(!ok(
            &[("cookie", &cookie), ("sec-fetch-site", "cross-site")],
            Some(token)
        ));
        assert!(!ok(
            &[("cookie", &cookie), ("sec-fetch-site", "same-site")],
            Some(token)
        ));
        assert!(!ok(&[("cookie", &cookie), ("origin", "null")], Some(token)));
        assert!(!ok(
            &[
                ("cookie", &cookie),
                ("origin", "https://auth.example.com.evil.example")
            ],
            Some(token)
        ));
        assert!(!ok(&[("cookie", &cookie)], Some("other")));
        assert!(!ok(&[("cookie", &cookie)], None));
        assert!(!ok(&[], Some(token)));
        assert!(!ok(&[("cookie", "__Host-authkit_link=")], Some("")));
    }
}
