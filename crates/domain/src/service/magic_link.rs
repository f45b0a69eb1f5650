//! What a magic link's page needs before anyone confirms, and where a confirmed link sends
//! the browser. Confirming and exchanging live with the other answers in `sign_in`.

use url::Url;
use zeroize::Zeroizing;

use super::sign_in::closed_error;
use super::AuthKit;
use crate::challenge::{Challenge, ChallengeKind};
use crate::error::AuthError;
use crate::tenant::Tenant;

impl AuthKit {
    /// Where confirming this link will send the browser (the challenge's redirect URI), so
    /// its page can allow exactly that destination. Reads only: mail scanners open every
    /// link. A link that can no longer be confirmed reports why, so the page says so at
    /// once instead of after the press.
    pub async fn magic_link_destination(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
    ) -> Result<String, AuthError> {
        let challenge = self.load_challenge(&tenant.id, challenge_id).await?;
        if challenge.kind != ChallengeKind::MagicLink {
            return Err(AuthError::MalformedAnswer);
        }
        let now = self.now();
        if !challenge.accepts_attempt(now) {
            return Err(closed_error(&challenge, now));
        }
        challenge.redirect_uri.ok_or(AuthError::RedirectRequired)
    }
}

/// The challenge's redirect URI carrying a confirmed link's one-time result in its
/// fragment (`#authkit_result=…`): browsers keep a fragment out of requests, server logs
/// and Referer headers, so the result reaches only the app's page (decision 32).
pub(super) fn redirect_with_result(
    challenge: &Challenge,
    result: &str,
) -> Result<Zeroizing<String>, AuthError> {
    let uri = challenge
        .redirect_uri
        .as_deref()
        .ok_or(AuthError::RedirectRequired)?;
    let mut redirect = Url::parse(uri).map_err(|_| AuthError::RedirectNotAllowed)?;
    let fragment = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("authkit_result", result)
            .finish(),
    );
    redirect.set_fragment(Some(&fragment));
    Ok(Zeroizing::new(redirect.into()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Harness, REDIRECT};
    use super::super::{RequestedKind, StartRequest};
    use crate::error::AuthError;

    fn link_for(identifier: &str) -> StartRequest<'_> {
        StartRequest {
            identifier,
            channel: None,
            kind: RequestedKind::MagicLink,
            redirect_uri: Some(REDIRECT),
        }
    }

    #[tokio::test]
    async fn a_live_links_page_learns_its_destination_and_a_used_ones_learns_why_not() {
        let h = Harness::new().await;
        let started = h
            .authkit
            .start_sign_in(h.caller(), link_for("a@example.com"))
            .await
            .unwrap();
        let id = started.id.as_str();
        for _ in 0..2 {
            let destination = h.authkit.magic_link_destination(&h.tenant, id).await;
            assert_eq!(
                destination.unwrap(),
                REDIRECT,
                "reading must change nothing"
            );
        }
        h.authkit
            .confirm_magic_link(&h.tenant, None, id, &h.sender.last_secret())
            .await
            .unwrap();
        assert!(matches!(
            h.authkit.magic_link_destination(&h.tenant, id).await,
            Err(AuthError::ChallengeUsed)
        ));
    }

    #[tokio::test]
    async fn the_result_travels_in_the_fragment_replacing_any_there() {
        let h = Harness::new().await;
        let started = h
            .authkit
            .start_sign_in(h.caller(), link_for("a@example.com"))
            .await
            .unwrap();
        let mut challenge = h
            .stores
            .challenges
            .get(&h.tenant.id, &started.id)
            .await
            .unwrap()
            .unwrap();
        challenge.redirect_uri = Some("https://app.example.com/cb?tab=1#old".into());
        let redirect = super::redirect_with_result(&challenge, "ch_1.abc").unwrap();
        assert_eq!(
            redirect.as_str(),
            "https://app.example.com/cb?tab=1#authkit_result=ch_1.abc"
        );
    }

    #[tokio::test]
    async fn a_code_challenge_has_no_link_page() {
        let h = Harness::new().await;
        let request = StartRequest {
            kind: RequestedKind::Code,
            redirect_uri: None,
            ..link_for("a@example.com")
        };
        let started = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
        assert!(matches!(
            h.authkit
                .magic_link_destination(&h.tenant, started.id.as_str())
                .await,
            Err(AuthError::MalformedAnswer)
        ));
        assert!(matches!(
            h.authkit.magic_link_destination(&h.tenant, "ch_nope").await,
            Err(AuthError::MalformedChallengeId)
        ));
    }
}
