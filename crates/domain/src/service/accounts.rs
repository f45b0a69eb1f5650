//! Accounts an outside user directory keeps (Cognito users): admitting a sign-up, and
//! proving a new contact with a code before the directory records it as verified. The
//! proof is bound to the account that asked for it and is good for nothing else: it signs
//! nobody in.

use super::sign_in::RequestedKind;
use super::{AuthKit, Caller, StartRequest, StartedChallenge};
use crate::challenge::ChallengePurpose;
use crate::error::AuthError;
use crate::event::EventKind;
use crate::identifier::Identifier;
use crate::rate_limit::Action;

impl AuthKit {
    /// Admits the creation of an account for `identifier` under the tenant's sign-up
    /// limits (per IP and per tenant by default): the parsed identifier.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn admit_sign_up(
        &self,
        caller: Caller<'_>,
        identifier: &str,
    ) -> Result<Identifier, AuthError> {
        let tenant = caller.tenant;
        let identifier = Identifier::parse(identifier, tenant.policy.default_region)?;
        self.admit(Action::SignUp, caller, &identifier, async {})
            .await?;
        Ok(identifier)
    }

    /// Sends a code to `identifier` that proves it for `account` only (an account the
    /// caller has already authenticated). The same checks, rate limits and lockout as a
    /// sign-in start.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn start_contact_proof(
        &self,
        caller: Caller<'_>,
        identifier: &str,
        account: &str,
    ) -> Result<StartedChallenge, AuthError> {
        let request = StartRequest {
            identifier,
            channel: None,
            kind: RequestedKind::Code,
            redirect_uri: None,
            code_challenge: None,
            response_mode: Default::default(),
        };
        let admitted = self.admit_start(caller, &request).await?;
        let purpose = ChallengePurpose::AddContact {
            account: account.to_owned(),
        };
        self.issue(caller, admitted, purpose).await
    }

    /// Checks the code of a proof started for `account`, counted atomically like a
    /// sign-in answer: the contact it proved. The proof is verified with its event
    /// (`contact_proven`) and the failures' reset in one change, and nothing else: no user,
    /// no session. A proof started for another account, and a sign-in challenge, are not
    /// found.
    #[tracing::instrument(skip_all, fields(tenant = %caller.tenant.id))]
    pub async fn verify_contact_proof(
        &self,
        caller: Caller<'_>,
        challenge_id: &str,
        code: &str,
        account: &str,
    ) -> Result<Identifier, AuthError> {
        let purpose = ChallengePurpose::AddContact {
            account: account.to_owned(),
        };
        let proven = self
            .verify_for(
                caller,
                challenge_id,
                code,
                &purpose,
                EventKind::ContactProven,
            )
            .await?;
        Ok(proven.identifier)
    }
}
