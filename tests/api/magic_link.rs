use authkit_tests::{for_each_backend, TestApp};
use serde_json::json;

#[tokio::test]
async fn a_magic_link_survives_scanners_and_signs_in_once() {
    for_each_backend(|app: TestApp| async move {
        let email = app.unique_email();
        let response = app
            .post("/v1/auth/start", Some(&app.publishable_key), json!({"identifier": email, "kind": "magic_link", "redirect_uri": app.redirect_uri}))
            .await;
        assert_eq!(response.status(), 200);
        let link = app.link_sent_to(&email).await;
        let link_path = link.split_once("/v1/").map(|(_, rest)| format!("/v1/{rest}")).unwrap();

        // A mail scanner: HEAD and GET, twice. Nothing may be consumed.
        for _ in 0..2 {
            assert_eq!(app.http.head(app.url(&link_path)).send().await.unwrap().status(), 200);
            let page = app.http.get(app.url(&link_path)).send().await.unwrap();
            assert_eq!(page.status(), 200);
            assert_eq!(page.headers()["cache-control"], "no-store");
            // Chromium applies form-action to the POST's redirect: the app's origin must be allowed.
            let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
            assert!(policy.contains("form-action 'self' https://app.example.com;"), "{policy}");
            assert!(page.text().await.unwrap().contains("<form"));
        }

        // The person confirms: the POST redirects to the app with a one-time result.
        let confirmed = app.confirm_link(&link).await;
        assert_eq!(confirmed.status(), 303);
        let location = confirmed.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&app.redirect_uri), "{location}");
        // In the fragment, which browsers never send to a server nor in a Referer.
        let landed = url::Url::parse(&location).unwrap();
        assert!(!landed.query_pairs().any(|(k, _)| k == "authkit_result"), "the result is in the query string: {location}");
        let result = url::form_urlencoded::parse(landed.fragment().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "authkit_result")
            .unwrap_or_else(|| panic!("no result in the fragment: {location}"))
            .1
            .into_owned();

        let exchanged = app.post("/v1/auth/verify", Some(&app.publishable_key), json!({"result": result})).await;
        assert_eq!(exchanged.status(), 200);
        let tokens: serde_json::Value = exchanged.json().await.unwrap();
        let claims = app.verify_with_published_jwks(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["amr"], json!(["magic_link", "email"]));

        let again = app.post("/v1/auth/verify", Some(&app.publishable_key), json!({"result": result})).await;
        assert_eq!(again.status(), 400);
        let replayed = app.http.get(&link).send().await.unwrap();
        assert!(replayed.status().is_client_error(), "a used link's page offered to confirm again: {}", replayed.status());
        let query: Vec<(String, String)> = url::Url::parse(&link).unwrap().query_pairs().into_owned().collect();
        let replayed = app.no_redirects().post(app.url("/v1/auth/link")).form(&query).send().await.unwrap();
        assert!(replayed.status().is_client_error(), "a used link confirmed again: {}", replayed.status());
    })
    .await;
}

#[tokio::test]
async fn a_link_without_its_parameters_gets_a_problem_document_not_plain_text() {
    let app = TestApp::spawn(authkit_tests::Backend::Embedded).await;
    for query in [
        "",
        "?tenant=acme",
        "?tenant=acme&challenge_id=ch_x",
        "?token=%ZZ",
    ] {
        let response = app
            .http
            .get(app.url(&format!("/v1/auth/link{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_request", "{query}");
    }
}

/// Login CSRF: the attacker starts a sign-in for their own address and makes the victim's
/// browser post that link's confirmation from another site. Had it worked, the victim would
/// land in the app signed in to the attacker's account.
#[tokio::test]
async fn a_cross_site_post_of_someone_elses_link_is_refused() {
    for_each_backend(|app: TestApp| async move {
        let attacker = app.unique_email();
        let started = app
            .post("/v1/auth/start", Some(&app.publishable_key), json!({"identifier": attacker, "kind": "magic_link", "redirect_uri": app.redirect_uri}))
            .await;
        assert_eq!(started.status(), 200);
        let link = app.link_sent_to(&attacker).await;
        let mut fields: Vec<(String, String)> = url::Url::parse(&link).unwrap().query_pairs().into_owned().collect();
        let post = || app.no_redirects().post(app.url("/v1/auth/link"));

        let refused = |response: reqwest::Response, what: &'static str| async move {
            assert_eq!(response.status(), 403, "{what}");
            assert!(response.headers().get("location").is_none(), "{what}");
            assert!(response.text().await.unwrap().contains("could not be confirmed from here"), "{what}");
        };
        // From the attacker's page in a current browser: fetch metadata and Origin say so.
        refused(post().header("origin", "https://evil.example").header("sec-fetch-site", "cross-site").form(&fields).send().await.unwrap(), "cross-site").await;
        refused(post().header("sec-fetch-site", "same-site").form(&fields).send().await.unwrap(), "same-site, another origin").await;
        // A sandboxed frame's form sends `Origin: null`.
        refused(post().header("origin", "null").form(&fields).send().await.unwrap(), "Origin: null").await;
        // A browser that sends neither: the page's cookie and field are missing or differ.
        refused(post().form(&fields).send().await.unwrap(), "no page token").await;
        fields.push(("page_token".into(), "guessed".into()));
        refused(post().header("cookie", "authkit_link=other").form(&fields).send().await.unwrap(), "page token differs").await;

        // Nothing was used up: the link still works from its own page.
        assert_eq!(app.confirm_link(&link).await.status(), 303);
    })
    .await;
}

/// RFC 7636, appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Starts a magic link with `options` merged into the request, confirms it from its page
/// and returns where the browser was sent.
async fn confirmed_location(app: &TestApp, options: serde_json::Value) -> url::Url {
    let email = app.unique_email();
    let mut request =
        json!({"identifier": email, "kind": "magic_link", "redirect_uri": app.redirect_uri});
    request
        .as_object_mut()
        .unwrap()
        .extend(options.as_object().unwrap().clone());
    let started = app
        .post("/v1/auth/start", Some(&app.publishable_key), request)
        .await;
    assert_eq!(started.status(), 200, "{}", started.text().await.unwrap());
    let confirmed = app.confirm_link(&app.link_sent_to(&email).await).await;
    assert_eq!(confirmed.status(), 303);
    url::Url::parse(confirmed.headers()["location"].to_str().unwrap()).unwrap()
}

fn result_in(pairs: url::form_urlencoded::Parse<'_>) -> String {
    pairs
        .into_owned()
        .find(|(k, _)| k == "authkit_result")
        .expect("a result")
        .1
}

async fn exchange(app: &TestApp, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = app
        .post("/v1/auth/verify", Some(&app.publishable_key), body)
        .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// An app that asks for it binds the sign-in to itself (PKCE, S256): the result, wherever
/// it leaks, is useless without the verifier the app kept; the link's token cannot go
/// round it either.
#[tokio::test]
async fn a_bound_magic_links_result_is_useless_without_the_apps_code_verifier() {
    for_each_backend(|app: TestApp| async move {
        let bound = json!({"code_challenge": CHALLENGE, "code_challenge_method": "S256"});
        let landed = confirmed_location(&app, bound.clone()).await;
        let result = result_in(url::form_urlencoded::parse(
            landed.fragment().unwrap_or_default().as_bytes(),
        ));
        for attempt in [
            json!({"result": result}),
            json!({"result": result, "code_verifier": "x".repeat(43)}),
            json!({"result": result, "code_verifier": "too-short"}),
            json!({"result": result, "code_verifier": CHALLENGE}),
        ] {
            let (status, problem) = exchange(&app, attempt.clone()).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (400, Some("invalid_sign_in_result")),
                "{attempt}"
            );
        }
        let (status, tokens) =
            exchange(&app, json!({"result": result, "code_verifier": VERIFIER})).await;
        assert_eq!(status, 200, "{tokens}");
        assert!(tokens["access_token"].is_string());
        let (status, _) =
            exchange(&app, json!({"result": result, "code_verifier": VERIFIER})).await;
        assert_eq!(status, 400, "a result works once");

        // The link's token, answered directly, would skip the binding: refused.
        let email = app.unique_email();
        let mut request =
            json!({"identifier": email, "kind": "magic_link", "redirect_uri": app.redirect_uri});
        request
            .as_object_mut()
            .unwrap()
            .extend(bound.as_object().unwrap().clone());
        let started: serde_json::Value = app
            .post("/v1/auth/start", Some(&app.publishable_key), request)
            .await
            .json()
            .await
            .unwrap();
        let link = url::Url::parse(&app.link_sent_to(&email).await).unwrap();
        let token = link
            .query_pairs()
            .into_owned()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1;
        let (status, problem) = exchange(
            &app,
            json!({"challenge_id": started["challenge_id"], "token": token}),
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("sign_in_bound"))
        );
    })
    .await;
}

/// PKCE downgrade: an attacker confirms a link of their own started WITHOUT a challenge
/// and plants its result in the victim's app, which sends its verifier. A verifier for
/// an unbound result means the result is not the app's own: refused.
#[tokio::test]
async fn a_code_verifier_presented_with_an_unbound_result_is_refused() {
    for_each_backend(|app: TestApp| async move {
        let landed = confirmed_location(&app, json!({})).await;
        let result = result_in(url::form_urlencoded::parse(
            landed.fragment().unwrap_or_default().as_bytes(),
        ));
        let (status, problem) =
            exchange(&app, json!({"result": result, "code_verifier": VERIFIER})).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("invalid_sign_in_result"))
        );
        let (status, _) = exchange(&app, json!({"result": result})).await;
        assert_eq!(status, 200, "the refusal used nothing up");
    })
    .await;
}

#[tokio::test]
async fn code_challenges_are_s256_of_the_right_shape_and_for_magic_links_only() {
    let app = TestApp::spawn(authkit_tests::Backend::Embedded).await;
    let email = app.unique_email();
    for (body, code) in [
        (
            json!({"code_challenge": CHALLENGE, "code_challenge_method": "plain"}),
            "invalid_request",
        ),
        (
            json!({"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"}),
            "invalid_code_challenge",
        ),
        (
            json!({"code_challenge": VERIFIER.repeat(2)}),
            "invalid_code_challenge",
        ),
        (
            json!({"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"}),
            "invalid_code_challenge",
        ),
        (
            json!({"code_challenge": CHALLENGE, "kind": "code"}),
            "invalid_code_challenge",
        ),
        (json!({"response_mode": "query"}), "invalid_code_challenge"),
    ] {
        let mut request =
            json!({"identifier": email, "kind": "magic_link", "redirect_uri": app.redirect_uri});
        request
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let response = app
            .post("/v1/auth/start", Some(&app.publishable_key), request)
            .await;
        assert_eq!(response.status(), 400, "{body}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{body}");
    }
}

/// A callback that is a server route cannot read a fragment: it may ask for the query
/// string, and only for a bound link, so the result it leaks to logs is useless alone.
#[tokio::test]
async fn a_bound_link_may_ask_for_its_result_in_the_query_string() {
    for_each_backend(|app: TestApp| async move {
        let landed = confirmed_location(&app, json!({"code_challenge": CHALLENGE, "code_challenge_method": "S256", "response_mode": "query"})).await;
        assert!(landed.fragment().is_none(), "{landed}");
        let result = result_in(landed.query_pairs());
        let (status, _) = exchange(&app, json!({"result": result, "code_verifier": VERIFIER})).await;
        assert_eq!(status, 200);
    })
    .await;
}
