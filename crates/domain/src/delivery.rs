//! Sending a challenge to a person. Adapters (SNS, SES, the dev outbox) implement [`Sender`].

use std::fmt;

use async_trait::async_trait;

use crate::identifier::{Channel, Identifier};
use crate::member::Role;
use crate::secret::OtpCode;
use crate::store::BoxError;
use crate::tenant::TenantId;

/// What to put in front of the person.
#[derive(Clone)]
pub enum MessageContent {
    Code(OtpCode),
    /// The full link, which carries the token: as secret as a code.
    MagicLink(zeroize::Zeroizing<String>),
    /// An invitation to manage a tenant, or to sign up. It carries no secret: accepting it
    /// takes a sign-in to the console by the invited address.
    Invitation(InvitationNotice),
}

/// What an invitation email says besides the tenant's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationNotice {
    pub role: Role,
    /// Where the console is (its first allowed web origin), if the deployment has one.
    pub console_url: Option<String>,
    pub purpose: InvitationPurpose,
}

/// What the invitee is asked to do, which decides the email's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationPurpose {
    /// Manage the tenant that invited them, with the role.
    Membership,
    /// Sign up and make tenants of their own (the operator's invitation while sign-up is
    /// invite-only, decision 169): the message names the deployment, not a role.
    SignUp,
}

impl fmt::Debug for MessageContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageContent::Code(_) => f.write_str("Code(***)"),
            MessageContent::MagicLink(_) => f.write_str("MagicLink(***)"),
            MessageContent::Invitation(notice) => write!(f, "Invitation({notice:?})"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub tenant: TenantId,
    /// Shown in the message ("Your Acme sign-in code …").
    pub tenant_name: String,
    pub channel: Channel,
    pub to: Identifier,
    pub content: MessageContent,
    pub expires_in_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The provider's id for the message (SNS MessageId, SES MessageId, outbox sequence).
    pub provider_message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no sender is configured for the {0} channel")]
    ChannelUnavailable(Channel),
    #[error("the provider refused the message")]
    Rejected(#[source] BoxError),
    #[error("the provider could not be reached")]
    Unavailable(#[source] BoxError),
}

#[async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError>;

    /// Whether this sender delivers on `channel` at all. A sign-in asking for a channel it
    /// does not is refused up front, before a challenge exists or a rate limit counts it.
    fn reaches(&self, _channel: Channel) -> bool {
        true
    }
}
