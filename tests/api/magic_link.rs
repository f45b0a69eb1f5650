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
