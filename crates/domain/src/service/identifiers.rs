//! A signed-in user changing the identifier they sign in with: the new one is proved with
//! a code sent to it (the contact-proof path Cognito users take, decision 78), bound to
//! the user, after a recent sign-in by code or link (a stolen session must not move the
//! account to its thief's address).

use super::{AuthKit, Caller, StartedChallenge};
use crate::challenge::ChallengeOwner;
use crate::error::AuthError;
use crate::event::{EventKind, Outcome};
use crate::identifier::Identifier;
use crate::store::{Applied, Change, Write};
use crate::token::AccessClaims;
use crate::user::{User, UserId};

/// The account a proof for an AuthKit user is bound to (Cognito's are `cognito:…`).
fn account(user: &UserId) -> String {
    format!("authkit:{user}")
}

/// Whom the user's pending challenges are about: the identifier while it names them
/// (a recycled number's challenges are its new holder's), and the account their contact
/// proofs are bound to.
pub(super) fn challenge_owners(user: &User) -> Vec<ChallengeOwner> {
    let mut owners = vec![ChallengeOwner::account(&account(&user.id))];
    if user.holds_identifier() {
        owners.push(ChallengeOwner::identifier(&user.identifier));
    }
    owners
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
        self.require_recent_proof(claims)?;
        let user = self.signed_in_user(caller, claims).await?;
        let wanted = Identifier::parse(identifier, caller.tenant.policy.default_region)?;
        if wanted.matching_key() == user.identifier.matching_key() {
            return Err(AuthError::InvalidParameter("identifier"));
        }
        self.start_contact_proof(caller, identifier, &account(&user.id))
            .await
    }

    /// Checks the code of a proof this user started, then makes the proved identifier
    /// theirs (`409 identifier_taken` when another user holds it).
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
        changed.detail = Some(format!("from={}", user.identifier.masked()));
        changed.ip = caller.ip.map(str::to_owned);
        let change = Change {
            writes: vec![Write::ChangeIdentifier {
                user: user.clone(),
                identifier: proved.clone(),
                at,
            }],
            events: vec![changed],
        };
        match self.apply(change).await? {
            Applied::Done => Ok(User {
                identifier: proved,
                last_sign_in_at: Some(at),
                ..user
            }),
            Applied::Refused(_) => Err(self.why_not_changed(caller, &user, &proved).await),
        }
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
