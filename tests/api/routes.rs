//! The local server and a deployment expose the same API: every route the OpenAPI document
//! lists is given to a Lambda function in infra/main.tf (or to the operator API's), and
//! each function's router serves every route Terraform sends it (decision 150).

use std::collections::BTreeSet;
use std::sync::Arc;

use authkit_domain::AuthKit;
use authkit_tests::operator::code_of;
use authkit_tests::{Backend, TestApp};

/// `"authkit-x" => ["METHOD /path", …]`, read from the function table of infra/main.tf.
fn terraform_routes() -> Vec<(String, Vec<String>)> {
    let main_tf = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/main.tf"))
        .expect("infra/main.tf");
    main_tf
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().strip_prefix('"')?.split_once('"')?;
            let listed = rest.split_once("routes = [")?.1.split_once(']')?.0;
            let routes = listed
                .split(',')
                .map(|route| route.trim().trim_matches('"').to_owned())
                .filter(|route| !route.is_empty())
                .collect();
            Some((name.to_owned(), routes))
        })
        .collect()
}

type Group = fn(Arc<AuthKit>) -> axum::Router;

/// The route group each HTTP function's binary serves (lambdas/src/bin).
const GROUPS: [(&str, Group); 7] = [
    ("authkit-start", authkit_api::start_routes),
    ("authkit-verify", authkit_api::verify_routes),
    ("authkit-resend", authkit_api::resend_routes),
    ("authkit-token", authkit_api::token_routes),
    ("authkit-devices", authkit_api::device_routes),
    ("authkit-tenant-api", authkit_api::tenant_api_routes),
    ("authkit-users", authkit_api::user_routes),
];

#[test]
fn every_documented_route_is_given_to_a_function() {
    let given: BTreeSet<String> = terraform_routes()
        .into_iter()
        .flat_map(|(_, routes)| routes)
        .collect();
    let document = serde_json::to_value(authkit_api::openapi::document()).unwrap();
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        // The operator API is one `ANY /admin/v1/{proxy+}` route on its own HTTP API.
        if path.starts_with("/admin/v1/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let route = format!("{} {path}", method.to_uppercase());
            if !given.contains(&route) {
                missing.push(route);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documented but given to no function in infra/main.tf: {missing:?}"
    );
}

#[tokio::test]
async fn each_function_serves_every_route_terraform_sends_it() {
    let app = TestApp::spawn_with(Backend::Embedded, &[("AUTHKIT_SIGNUP", "open")]).await;
    let routes = terraform_routes();
    for (function, group) in GROUPS {
        let (_, given) = routes
            .iter()
            .find(|(name, _)| name == function)
            .unwrap_or_else(|| panic!("{function} is in infra/main.tf"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(authkit_local::serve(
            listener,
            group(app.authkit.clone()),
            std::future::pending(),
        ));
        for route in given {
            let (method, path) = route.split_once(' ').unwrap();
            // A GET route answers HEAD too; GET shows its problem body.
            let method = if method == "HEAD" { "GET" } else { method };
            let response = app
                .http
                .request(
                    method.parse().unwrap(),
                    format!("{base}{}", path.replace("{id}", "x")),
                )
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let (status, code) = code_of(response).await;
            assert!(
                code != "not_found" && code != "method_not_allowed",
                "{function} does not serve {route}: {status} {code}"
            );
        }
    }
}
