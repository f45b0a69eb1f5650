//! Tenant members over HTTP: the console tenant, invitations accepted by signing in, the
//! tenant API with a member's token within the role, from the console's browser origin,
//! the last owner kept, pending invitations listed and revoked, and the operator giving a
//! tenant an owner again.

use authkit_tests::members::{ConsoleKeys, CONSOLE_ORIGIN};
use authkit_tests::operator::{code_of, idempotency_key, text};
use authkit_tests::{for_each_backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn console_keys(app: &TestApp) -> ConsoleKeys {
    let keys = app
        .bootstrap_console()
        .await
        .expect("created the first time");
    assert!(
        app.bootstrap_console().await.is_none(),
        "a second bootstrap changes nothing and shows no keys"
    );
    keys
}

async fn console_key(app: &TestApp) -> String {
    console_keys(app).await.publishable
}

#[tokio::test]
async fn a_member_uses_the_tenant_api_within_their_role() {
    for_each_backend(|app: TestApp| async move {
        let console = console_key(&app).await;
        let (viewer, _) = app.member_of(&console, &app.secret_key, "viewer").await;
        let read = app
            .as_member(Method::GET, "/v1/tenant", &viewer, &app.tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "{}", text(read).await);
        let change = app
            .as_member(Method::PATCH, "/v1/tenant", &viewer, &app.tenant)
            .json(&json!({"name": "Renamed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(change).await, (403, "role_forbidden".to_owned()));
        let create = app
            .as_member(Method::POST, "/v1/api_keys", &viewer, &app.tenant)
            .header("idempotency-key", "members-test-1")
            .json(&json!({"kind": "secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(create).await, (403, "role_forbidden".to_owned()));

        let (developer, _) = app.member_of(&console, &app.secret_key, "developer").await;
        let create = app
            .as_member(Method::POST, "/v1/api_keys", &developer, &app.tenant)
            .header("idempotency-key", "members-test-2")
            .json(&json!({"kind": "publishable"}))
            .send()
            .await
            .unwrap();
        assert_eq!(create.status(), 201, "{}", text(create).await);

        super::users::deliver_events(&app).await;
        let audit: Value = app
            .as_member(
                Method::GET,
                "/v1/audit-events?limit=100",
                &viewer,
                &app.tenant,
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let created_by_member = audit["data"].as_array().unwrap().iter().any(|event| {
            event["kind"] == "api_key_created"
                && event["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("by member:usr_")
        });
        assert!(
            created_by_member,
            "the key's creation names the member: {audit}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_members_token_works_from_the_consoles_origin_only_and_a_secret_key_never_from_a_browser()
{
    for_each_backend(|app: TestApp| async move {
        let console = console_key(&app).await;
        let (viewer, _) = app.member_of(&console, &app.secret_key, "viewer").await;
        let from_console = app
            .as_member(Method::GET, "/v1/tenant", &viewer, &app.tenant)
            .header("origin", CONSOLE_ORIGIN)
            .send()
            .await
            .unwrap();
        assert_eq!(from_console.status(), 200);
        assert_eq!(
            from_console.headers()["access-control-allow-origin"],
            CONSOLE_ORIGIN
        );
        let elsewhere = app
            .as_member(Method::GET, "/v1/tenant", &viewer, &app.tenant)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(elsewhere).await,
            (403, "origin_not_allowed".to_owned())
        );
        let secret_from_browser = app
            .tenant_api(Method::GET, "/v1/tenant", &app.secret_key)
            .header("origin", CONSOLE_ORIGIN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(secret_from_browser).await,
            (403, "secret_key_in_browser".to_owned())
        );
        let no_tenant = app
            .http
            .get(app.url("/v1/tenant"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(no_tenant).await,
            (400, "invalid_request".to_owned())
        );
        let forged_without_tenant = app
            .http
            .get(app.url("/v1/tenant"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(forged_without_tenant).await,
            (401, "invalid_access_token".to_owned()),
            "the token is judged before the header is asked for (schemathesis ST401)"
        );
        let end_user = app.sign_in(&app.unique_email()).await;
        let not_a_member = app
            .as_member(
                Method::GET,
                "/v1/tenant",
                end_user["access_token"].as_str().unwrap(),
                &app.tenant,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(not_a_member).await,
            (401, "invalid_access_token".to_owned()),
            "an end user's token of the tenant is no member's"
        );
    })
    .await;
}

#[tokio::test]
async fn a_tenant_keeps_its_last_owner_and_an_operator_can_give_it_one_again() {
    for_each_backend(|app: TestApp| async move {
        let console = console_key(&app).await;
        let (owner, owner_id) = app.member_of(&console, &app.secret_key, "owner").await;
        let leave = app
            .as_member(
                Method::DELETE,
                &format!("/v1/members/{owner_id}"),
                &owner,
                &app.tenant,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(leave).await, (409, "last_owner".to_owned()));
        let demote = app
            .as_member(
                Method::PATCH,
                &format!("/v1/members/{owner_id}"),
                &owner,
                &app.tenant,
            )
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(demote).await, (409, "last_owner".to_owned()));

        // The operator names a new owner; once they sign in and accept, the old one may go.
        let email = app.unique_email();
        let restored = app
            .admin(
                Method::POST,
                &format!("/admin/v1/tenants/{}/owners", app.tenant),
            )
            .json(&json!({"email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(restored.status(), 202, "{}", text(restored).await);
        let (_, new_owner) = app.console_sign_in(&console, &email).await;
        let members: Value = app
            .as_member(Method::GET, "/v1/members", &owner, &app.tenant)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let roles: Vec<(&str, &str)> = members["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["id"].as_str().unwrap(), m["role"].as_str().unwrap()))
            .collect();
        assert!(roles.contains(&(new_owner.as_str(), "owner")), "{members}");
        let leave = app
            .as_member(
                Method::DELETE,
                &format!("/v1/members/{owner_id}"),
                &owner,
                &app.tenant,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(leave.status(), 204);
        let gone = app
            .as_member(Method::GET, "/v1/tenant", &owner, &app.tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(gone).await,
            (404, "tenant_not_found".to_owned()),
            "a removed member's token no longer finds the tenant"
        );
    })
    .await;
}

#[tokio::test]
async fn an_invitation_answers_alike_whether_or_not_the_address_has_an_account() {
    for_each_backend(|app: TestApp| async move {
        let console = console_key(&app).await;
        let known = app.unique_email();
        app.console_sign_in(&console, &known).await;
        let unknown = app.unique_email();
        let mut answers = Vec::new();
        for email in [&known, &unknown] {
            let response = app
                .tenant_api(Method::POST, "/v1/members", &app.secret_key)
                .json(&json!({"email": email, "role": "viewer"}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let mut body: Value = response.json().await.unwrap();
            let keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
            body["email"] = Value::Null;
            answers.push((status, keys, body["object"].clone(), body["role"].clone()));
        }
        assert_eq!(answers[0], answers[1]);
        let memberships: Value = app
            .http
            .get(app.url("/v1/memberships"))
            .bearer_auth(app.console_sign_in(&console, &unknown).await.0)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(memberships["data"][0]["tenant"], app.tenant.as_str());
        assert_eq!(memberships["data"][0]["role"], "viewer");
    })
    .await;
}

#[tokio::test]
async fn an_invitation_is_emailed_and_a_console_user_leaves_their_tenants_before_erasure() {
    for_each_backend(|app: TestApp| async move {
        let keys = console_keys(&app).await;
        let email = app.unique_email();
        let invited = app
            .tenant_api(Method::POST, "/v1/members", &app.secret_key)
            .json(&json!({"email": email, "role": "owner"}))
            .send()
            .await
            .unwrap();
        assert_eq!(invited.status(), 202);
        let invited: Value = invited.json().await.unwrap();
        assert_eq!(invited["notified"], true, "{invited}");
        let letter = app.newest_message_to(&email).await;
        assert!(
            letter.contains("invited to") && letter.contains("as owner"),
            "the invitation email: {letter}"
        );
        let (token, owner) = app.console_sign_in(&keys.publishable, &email).await;

        let erase = || {
            app.tenant_api(Method::DELETE, &format!("/v1/users/{owner}"), &keys.secret)
                .send()
        };
        let leave = || {
            app.http
                .delete(app.url(&format!("/v1/memberships/{}", app.tenant)))
                .bearer_auth(&token)
                .send()
        };
        assert_eq!(
            code_of(erase().await.unwrap()).await,
            (409, "still_a_member".to_owned())
        );
        assert_eq!(
            code_of(leave().await.unwrap()).await,
            (409, "last_owner".to_owned()),
            "the tenant's only owner stays"
        );
        app.member_of(&keys.publishable, &app.secret_key, "owner")
            .await;
        assert_eq!(leave().await.unwrap().status(), 204);
        let erased = erase().await.unwrap();
        assert_eq!(erased.status(), 204, "{}", text(erased).await);
    })
    .await;
}

/// Outside attack (session 17, finding 1): a developer minted a secret key, and with it made
/// themselves owner and removed the real one. A secret key can do everything, so only an
/// owner mints, rotates or revokes one.
#[tokio::test]
async fn only_an_owner_mints_rotates_or_revokes_a_secret_key() {
    for_each_backend(|app: TestApp| async move {
        let console = console_key(&app).await;
        let (owner, _) = app.member_of(&console, &app.secret_key, "owner").await;
        for role in ["developer", "admin"] {
            let (member, _) = app.member_of(&console, &app.secret_key, role).await;
            let minted = app
                .as_member(Method::POST, "/v1/api_keys", &member, &app.tenant)
                .header("idempotency-key", idempotency_key())
                .json(&json!({"kind": "secret"}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                code_of(minted).await,
                (403, "role_forbidden".to_owned()),
                "{role} mints a secret key"
            );
        }
        let (developer, _) = app.member_of(&console, &app.secret_key, "developer").await;
        let keys: Value = app
            .tenant_api(Method::GET, "/v1/api_keys?limit=100", &app.secret_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id_of = |kind: &str| {
            keys["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|key| key["kind"] == kind)
                .and_then(|key| key["id"].as_str())
                .unwrap_or_else(|| panic!("a {kind} key: {keys}"))
                .to_owned()
        };
        let (secret, publishable) = (id_of("secret"), id_of("publishable"));
        for action in ["rotate", "revoke"] {
            let refused = app
                .as_member(
                    Method::POST,
                    &format!("/v1/api_keys/{secret}/{action}"),
                    &developer,
                    &app.tenant,
                )
                .header("idempotency-key", idempotency_key())
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                code_of(refused).await,
                (403, "role_forbidden".to_owned()),
                "a developer may not {action} a secret key"
            );
        }
        let rotated = app
            .as_member(
                Method::POST,
                &format!("/v1/api_keys/{publishable}/rotate"),
                &developer,
                &app.tenant,
            )
            .header("idempotency-key", idempotency_key())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), 201, "{}", text(rotated).await);
        let minted = app
            .as_member(Method::POST, "/v1/api_keys", &owner, &app.tenant)
            .header("idempotency-key", idempotency_key())
            .json(&json!({"kind": "secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(minted.status(), 201, "an owner mints one");
    })
    .await;
}

#[tokio::test]
async fn every_role_lists_pending_invitations_and_only_owners_revoke_one() {
    for_each_backend(|app: TestApp| async move {
        let console = console_key(&app).await;
        let (viewer, _) = app.member_of(&console, &app.secret_key, "viewer").await;
        let invitee = app.unique_email();
        let invited: Value = app
            .tenant_api(Method::POST, "/v1/members", &app.secret_key)
            .json(&json!({"email": invitee, "role": "admin"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = invited["id"].as_str().expect("an invitation id").to_owned();

        let listed = app
            .as_member(Method::GET, "/v1/invitations", &viewer, &app.tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
        let listed: Value = listed.json().await.unwrap();
        let pending = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|invitation| invitation["id"] == id.as_str())
            .expect("the invitation is listed");
        assert_eq!(pending["role"], "admin");
        assert_eq!(
            pending["email"], invited["email"],
            "masked as in the answer"
        );
        assert!(pending.get("notified").is_none(), "{pending}");
        assert!(!listed.to_string().contains(&invitee), "{listed}");

        let path = format!("/v1/invitations/{id}");
        let by_viewer = app
            .as_member(Method::DELETE, &path, &viewer, &app.tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(by_viewer).await, (403, "role_forbidden".to_owned()));
        let revoked = app
            .tenant_api(Method::DELETE, &path, &app.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 204, "{}", text(revoked).await);
        for again in [path.as_str(), "/v1/invitations/inv_nope"] {
            let again = app
                .tenant_api(Method::DELETE, again, &app.secret_key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                code_of(again).await,
                (404, "invitation_not_found".to_owned())
            );
        }

        let (token, _) = app.console_sign_in(&console, &invitee).await;
        let accepted: Value = app
            .http
            .post(app.url("/v1/memberships/accept"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            accepted["data"],
            json!([]),
            "a revoked invitation admits nobody"
        );
    })
    .await;
}
