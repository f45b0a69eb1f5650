//! A signed-in user changing the identifier they sign in with: the new one is proved with
//! a code sent to it (the contact-proof path Cognito users take, decision 78), bound to
//! the user, after a recent sign-in by code or link (a stolen session must not move the
//! account to its thief's address).

use super::{AuthKit, Caller, StartedChallenge};
use crate::challenge::ChallengeOwner;
use crate::error::AuthError;
use crate::event::{EventKind, Outcome};
use crate::identifier::{Identifier, IdentifierKind};
use crate::store::{Applied, Change, Write};
use crate::token::AccessClaims;
use crate::user::{User, UserId};

/// The account a proof for an AuthKit user is bound to (Cognito's are `cognito:…`).
fn account(user: &UserId) -> String {
    format!("authkit:{user}")
}

/// Whom the user's pending challenges are about: the identifiers that name them
/// (a recycled number's challenges are its new holder's), and the account their contact
/// proofs are bound to.
pub(super) fn challenge_owners(user: &User) -> Vec<ChallengeOwner> {
    std::iter::once(ChallengeOwner::account(&account(&user.id)))
        .chain(
            user.identifiers()
                .into_iter()
                .map(ChallengeOwner::identifier),
        )
        .collect()
}

impl AuthKit {
    /// Sends a code to `identifier` that proves it for the signed-in user only. Whether
    /// another user holds it is not said here: only after the proof, to its holder.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn start_identifier_change(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
        identifier: &str,
    ) -> Result<StartedChallenge, AuthError> {
        if caller.tenant.id.as_str() == crate::member::CONSOLE_TENANT {
            // Owners granted access to this address, and see it in their member list:
            // swapping it would keep the access past the mailbox they trusted (outside
            // attack, session 17). A new address is a new invitation.
            return Err(AuthError::InvalidRequest(
                "a console user keeps the address they were invited by; ask to be invited at the new one",
            ));
        }
        self.require_recent_proof(claims)?;
        let user = self.signed_in_user(caller, claims).await?;
        let wanted = Identifier::parse(identifier, caller.tenant.policy.default_region)?;
        if user
            .identifiers()
            .iter()
            .any(|held| held.matching_key() == wanted.matching_key())
        {
            return Err(AuthError::InvalidParameter("identifier"));
        }
        self.start_contact_proof(caller, identifier, &account(&user.id))
            .await
    }

    /// Checks the code of a proof this user started, then makes the proved identifier
    /// theirs: it replaces the one of its kind they hold, or joins the other kind as their
    /// second (`409 identifier_taken` when another user holds it).
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn verify_identifier_change(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
        challenge_id: &str,
        code: &str,
    ) -> Result<User, AuthError> {
        self.require_recent_proof(claims)?;
        let user = self.signed_in_user(caller, claims).await?;
        let proved = self
            .verify_contact_proof(caller, challenge_id, code, &account(&user.id))
            .await?;
        let at = self.now();
        let mut changed = self.event(
            caller.tenant,
            EventKind::IdentifierChanged,
            Outcome::Success,
        );
        changed.user_id = Some(user.id.clone());
        changed.identifier = Some(proved.masked());
        changed.detail = Some(match user.identifier_of(proved.kind()) {
            Some(replaced) => format!("from={}", replaced.masked()),
            None => "added".to_owned(),
        });
        changed.ip = caller.ip.map(str::to_owned);
        let next = User {
            last_sign_in_at: Some(at),
            ..user.with_identifier(proved.clone(), at)
        };
        match self.set_identifiers(&user, &next, changed).await? {
            Applied::Done => Ok(next),
            Applied::Refused(_) => Err(self.why_not_changed(caller, &user, &proved).await),
        }
    }

    /// Removes the signed-in user's identifier of `kind`, when they hold another to sign
    /// in with (`409 last_identifier` otherwise). Needs a recent sign-in like a change: a
    /// stolen session must not strip the account of the contact its owner recovers it by.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn remove_identifier(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
        kind: IdentifierKind,
    ) -> Result<User, AuthError> {
        self.require_recent_proof(claims)?;
        let user = self.signed_in_user(caller, claims).await?;
        let removed = user
            .identifier_of(kind)
            .cloned()
            .ok_or(AuthError::IdentifierNotHeld)?;
        let next = user
            .without_identifier(kind)
            .ok_or(AuthError::LastIdentifier)?;
        let mut event = self.event(
            caller.tenant,
            EventKind::IdentifierChanged,
            Outcome::Success,
        );
        event.user_id = Some(user.id.clone());
        event.identifier = Some(removed.masked());
        event.detail = Some("removed".to_owned());
        event.ip = caller.ip.map(str::to_owned);
        match self.set_identifiers(&user, &next, event).await? {
            Applied::Done => Ok(next),
            // The user changed in between: their token no longer says who they are.
            Applied::Refused(_) => Err(AuthError::InvalidAccessToken),
        }
    }

    async fn set_identifiers(
        &self,
        user: &User,
        next: &User,
        event: crate::event::Event,
    ) -> Result<Applied, AuthError> {
        self.apply(Change {
            writes: vec![Write::SetIdentifiers {
                user: user.clone(),
                next: next.clone(),
            }],
            events: vec![event],
        })
        .await
    }

    /// The user an access token names, while they hold their identifier and are enabled.
    async fn signed_in_user(
        &self,
        caller: Caller<'_>,
        claims: &AccessClaims,
    ) -> Result<User, AuthError> {
        match self
            .stores
            .users
            .get(&caller.tenant.id, &claims.sub)
            .await?
        {
            Some(user) if user.holds_identifier() && !user.is_disabled() => Ok(user),
            _ => Err(AuthError::InvalidAccessToken),
        }
    }

    /// A refused change: the identifier was taken, or the user changed in between.
    async fn why_not_changed(
        &self,
        caller: Caller<'_>,
        user: &User,
        wanted: &Identifier,
    ) -> AuthError {
        match self.stores.users.find(&caller.tenant.id, wanted).await {
            Ok(Some(holder)) if holder.id != user.id => AuthError::IdentifierTaken,
            Ok(_) => AuthError::InvalidAccessToken,
            Err(error) => error.into(),
        }
    }
}
