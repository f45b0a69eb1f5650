//! What a magic link's page needs before anyone confirms, and where a confirmed link sends
//! the browser. Confirming and exchanging live with the other answers in `answers`.

use url::Url;
use zeroize::Zeroizing;

use super::sign_in::{closed_error, RequestedKind, StartRequest};
use super::AuthKit;
use crate::challenge::{Challenge, ChallengeKind, ResponseMode};
use crate::error::AuthError;
use crate::pkce::{CodeChallenge, CodeVerifier};
use crate::tenant::{MagicLinkPkce, Tenant};

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

/// The PKCE challenge a start request binds its magic link to, if any. Only magic links
/// travel through a browser, so only they can be bound; the query string, which leaks to
/// logs, is only for links whose result is useless without the verifier.
/// A tenant that requires PKCE refuses an unbound magic link (decision 99).
pub(super) fn binding(
    request: &StartRequest<'_>,
    pkce: MagicLinkPkce,
) -> Result<Option<CodeChallenge>, AuthError> {
    let code_challenge = match (request.kind, request.code_challenge) {
        (_, None) => None,
        (RequestedKind::Code, Some(_)) => {
            return Err(AuthError::InvalidCodeChallenge(
                "code_challenge binds magic links only",
            ))
        }
        (RequestedKind::MagicLink, Some(raw)) => Some(CodeChallenge::parse(raw).map_err(|_| {
            AuthError::InvalidCodeChallenge(
                "code_challenge must be BASE64URL(SHA-256(code_verifier)): 43 characters",
            )
        })?),
    };
    let leaky =
        request.kind == RequestedKind::MagicLink && request.response_mode == ResponseMode::Query;
    if request.kind == RequestedKind::MagicLink
        && code_challenge.is_none()
        && pkce == MagicLinkPkce::Required
    {
        return Err(AuthError::CodeChallengeRequired);
    }
    if leaky && code_challenge.is_none() {
        return Err(AuthError::InvalidCodeChallenge(
            "response_mode query needs a code_challenge",
        ));
    }
    Ok(code_challenge)
}

/// Whether the verifier presented with a result fits the challenge's binding: the right
/// verifier for a bound link, none for an unbound one. A verifier offered for an unbound
/// result means the result is not the presenting app's own (a planted link: the PKCE
/// downgrade attack), so it is refused too.
pub(super) fn verifier_answers(challenge: &Challenge, verifier: Option<&str>) -> bool {
    match (challenge.code_challenge, verifier) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(bound), Some(raw)) => {
            CodeVerifier::parse(raw).is_ok_and(|verifier| bound.is_answered_by(&verifier))
        }
    }
}

/// The challenge's redirect URI carrying a confirmed link's one-time result: in the
/// fragment (`#authkit_result=…`) by default, which browsers keep out of requests, server
/// logs and Referer headers, so the result reaches only the app's page (decision 65); in
/// the query string when a bound link asked for it (decision 66).
pub(super) fn redirect_with_result(
    challenge: &Challenge,
    result: &str,
) -> Result<Zeroizing<String>, AuthError> {
    let uri = challenge
        .redirect_uri
        .as_deref()
        .ok_or(AuthError::RedirectRequired)?;
    let mut redirect = Url::parse(uri).map_err(|_| AuthError::RedirectNotAllowed)?;
    match challenge.response_mode {
        ResponseMode::Fragment => {
            let fragment = Zeroizing::new(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("authkit_result", result)
                    .finish(),
            );
            redirect.set_fragment(Some(&fragment));
        }
        ResponseMode::Query => {
            redirect
                .query_pairs_mut()
                .append_pair("authkit_result", result);
        }
    }
    Ok(Zeroizing::new(redirect.into()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Harness, REDIRECT};
    use super::super::{RequestedKind, StartRequest};
    use crate::challenge::ResponseMode;
    use crate::error::AuthError;

    /// RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// Starts `request`, confirms its link and returns the redirect it answered with.
    async fn confirmed(h: &Harness, request: StartRequest<'_>) -> url::Url {
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
        url::Url::parse(&confirmed.redirect_to).unwrap()
    }

    fn result_in(pairs: url::form_urlencoded::Parse<'_>) -> String {
        pairs
            .into_owned()
            .find(|(k, _)| k == "authkit_result")
            .unwrap()
            .1
    }

    fn link_for(identifier: &str) -> StartRequest<'_> {
        StartRequest {
            identifier,
            channel: None,
            kind: RequestedKind::MagicLink,
            redirect_uri: Some(REDIRECT),
            code_challenge: None,
            response_mode: Default::default(),
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
    async fn a_bound_result_is_exchanged_only_with_its_verifier_and_survives_a_resend() {
        let h = Harness::new().await;
        let request = StartRequest {
            code_challenge: Some(CHALLENGE),
            ..link_for("a@example.com")
        };
        let first = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
        h.clock.advance(30);
        let resent = h
            .authkit
            .resend(h.caller(), first.id.as_str())
            .await
            .unwrap();
        let landed = url::Url::parse(
            &h.authkit
                .confirm_magic_link(&h.tenant, None, resent.id.as_str(), &h.sender.last_secret())
                .await
                .unwrap()
                .redirect_to,
        )
        .unwrap();
        let result = result_in(url::form_urlencoded::parse(
            landed.fragment().unwrap().as_bytes(),
        ));
        for wrong in [
            None,
            Some("x"),
            Some(CHALLENGE),
            Some(&*VERIFIER.replace('d', "e")),
        ] {
            assert!(matches!(
                h.authkit
                    .exchange_result(h.caller(), &result, None, wrong)
                    .await,
                Err(AuthError::InvalidSignInResult)
            ));
        }
        let verified = h
            .authkit
            .exchange_result(h.caller(), &result, None, Some(VERIFIER))
            .await
            .unwrap();
        assert_eq!(verified.challenge.id, resent.id);
    }

    #[tokio::test]
    async fn an_unbound_result_refuses_a_verifier_and_a_bound_link_refuses_its_token() {
        let h = Harness::new().await;
        let landed = confirmed(&h, link_for("a@example.com")).await;
        let result = result_in(url::form_urlencoded::parse(
            landed.fragment().unwrap().as_bytes(),
        ));
        assert!(matches!(
            h.authkit
                .exchange_result(h.caller(), &result, None, Some(VERIFIER))
                .await,
            Err(AuthError::InvalidSignInResult)
        ));
        h.authkit
            .exchange_result(h.caller(), &result, None, None)
            .await
            .unwrap();

        let request = StartRequest {
            code_challenge: Some(CHALLENGE),
            ..link_for("b@example.com")
        };
        let bound = h.authkit.start_sign_in(h.caller(), request).await.unwrap();
        assert!(matches!(
            h.authkit
                .verify_answer(h.caller(), bound.id.as_str(), &h.sender.last_secret())
                .await,
            Err(AuthError::SignInBound)
        ));
    }

    #[tokio::test]
    async fn only_bound_links_may_ask_for_the_query_string_and_only_links_are_bound() {
        let h = Harness::new().await;
        let query = StartRequest {
            response_mode: ResponseMode::Query,
            ..link_for("a@example.com")
        };
        assert!(matches!(
            h.authkit.start_sign_in(h.caller(), query.clone()).await,
            Err(AuthError::InvalidCodeChallenge(_))
        ));
        let code = StartRequest {
            kind: RequestedKind::Code,
            code_challenge: Some(CHALLENGE),
            ..link_for("a@example.com")
        };
        assert!(matches!(
            h.authkit.start_sign_in(h.caller(), code).await,
            Err(AuthError::InvalidCodeChallenge(_))
        ));
        assert_eq!(h.sender.count(), 0, "a refused start sends nothing");

        let bound_query = StartRequest {
            code_challenge: Some(CHALLENGE),
            ..query
        };
        let landed = confirmed(&h, bound_query).await;
        assert!(landed.fragment().is_none());
        let result = result_in(landed.query_pairs());
        h.authkit
            .exchange_result(h.caller(), &result, None, Some(VERIFIER))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_code_challenge_has_no_link_page() {
        let h = Harness::new().await;
        let request = StartRequest {
            kind: RequestedKind::Code,
            redirect_uri: None,
            code_challenge: None,
            response_mode: Default::default(),
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
