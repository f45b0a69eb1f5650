//! Service behaviour for accounts an outside user directory (Cognito) keeps: results bound
//! to the session that asked for them.

use super::testing::{Harness, REDIRECT};
use super::{ExpectedResult, RequestedKind, StartRequest};
use crate::error::AuthError;
use crate::identifier::Identifier;

/// Starts a magic link to `identifier` and confirms it: the id and the one-time result.
async fn confirmed_link(h: &Harness, identifier: &str) -> (String, String) {
    let request = StartRequest {
        identifier,
        channel: None,
        kind: RequestedKind::MagicLink,
        redirect_uri: Some(REDIRECT),
    };
    let started = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
    let confirmed = h
        .authkit
        .confirm_magic_link(
            &h.tenant,
            None,
            started.id.as_str(),
            &h.sender.last_secret(),
        )
        .await
        .unwrap();
    let redirect = url::Url::parse(&confirmed.redirect_to).unwrap();
    let fragment = redirect.fragment().unwrap_or_default().to_owned();
    let result = redirect
        .query_pairs()
        .chain(url::form_urlencoded::parse(fragment.as_bytes()))
        .find(|(k, _)| k == "authkit_result")
        .unwrap()
        .1
        .into_owned();
    (started.id.to_string(), result)
}

#[tokio::test]
async fn a_bound_result_answers_only_its_own_challenge_and_contacts_and_wrong_ones_consume_nothing()
{
    let h = Harness::new().await;
    let (id, result) = confirmed_link(&h, "mallory@example.net").await;
    let (other_id, _) = confirmed_link(&h, "jane@example.com").await;
    let mallory = [Identifier::parse("mallory@example.net", None).unwrap()];
    let jane = [Identifier::parse("jane@example.com", None).unwrap()];

    let for_another_challenge = ExpectedResult {
        challenge_id: &other_id,
        identifiers: &mallory,
    };
    let sent_to_someone_else = ExpectedResult {
        challenge_id: &id,
        identifiers: &jane,
    };
    for wrong in [for_another_challenge, sent_to_someone_else] {
        assert!(matches!(
            h.authkit
                .exchange_result(h.caller(), &result, Some(wrong))
                .await,
            Err(AuthError::InvalidSignInResult)
        ));
    }
    let own = ExpectedResult {
        challenge_id: &id,
        identifiers: &mallory,
    };
    let verified = h
        .authkit
        .exchange_result(h.caller(), &result, Some(own))
        .await
        .expect("the refused attempts consumed nothing");
    assert_eq!(verified.challenge.identifier, mallory[0]);
}
