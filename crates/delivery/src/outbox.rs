//! The dev outbox: messages are printed to the console and the last ones kept for
//! `GET /dev/outbox`. Only the local server links it (see `authkit-app`'s `dev-outbox`
//! feature): it shows codes in clear, which is its whole point and why it never ships.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use authkit_domain::delivery::{
    DeliveryError, DeliveryReceipt, MessageContent, OutgoingMessage, Sender,
};
use authkit_domain::identifier::Channel;
use serde::Serialize;

use crate::templates::Templates;

#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    pub id: u64,
    pub tenant: String,
    pub channel: Channel,
    /// The full destination: this is a development tool.
    pub to: String,
    pub subject: Option<String>,
    pub text: String,
    /// The code or the magic link the message carries, without the words around it.
    pub secret: String,
}

pub struct Outbox {
    templates: Templates,
    capacity: usize,
    quiet: bool,
    messages: Mutex<VecDeque<OutboxMessage>>,
    sequence: AtomicU64,
}

impl Outbox {
    /// Keeps the last `capacity` messages; prints each unless `quiet` (benchmarks).
    pub fn new(capacity: usize, quiet: bool) -> Outbox {
        Outbox {
            templates: Templates::default(),
            capacity: capacity.max(1),
            quiet,
            messages: Mutex::default(),
            sequence: AtomicU64::new(0),
        }
    }

    /// The kept messages, oldest first; only those to `to` when given (a developer looking
    /// for their own code, or a benchmark reading codes while the outbox stays small).
    pub fn messages(&self, to: Option<&str>) -> Vec<OutboxMessage> {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter(|message| to.is_none_or(|to| message.to == to))
            .cloned()
            .collect()
    }

    /// The newest kept message to `to`.
    pub fn latest(&self, to: &str) -> Option<OutboxMessage> {
        self.messages(Some(to)).pop()
    }
}

#[async_trait]
impl Sender for Outbox {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let rendered = self.templates.render(message);
        let id = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        let kept = OutboxMessage {
            id,
            tenant: message.tenant.to_string(),
            channel: message.channel,
            to: message.to.as_str().to_owned(),
            subject: rendered.subject,
            text: rendered.text,
            secret: match &message.content {
                MessageContent::Code(code) => code.expose().to_owned(),
                MessageContent::MagicLink(link) => link.as_str().to_owned(),
                // An invitation carries no secret: accepting takes a console sign-in.
                MessageContent::Invitation(_) => String::new(),
            },
        };
        if !self.quiet {
            eprintln!(
                "\n── dev outbox: {} to {} ──\n{}\n",
                kept.channel,
                kept.to,
                kept.text.trim_end()
            );
        }
        let mut messages = self
            .messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if messages.len() == self.capacity {
            messages.pop_front();
        }
        messages.push_back(kept);
        Ok(DeliveryReceipt {
            provider_message_id: format!("outbox-{id}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authkit_domain::identifier::Identifier;
    use authkit_domain::secret::{CodeLength, OtpCode};
    use authkit_domain::tenant::TenantId;

    fn code_to(to: &str, code: &str) -> OutgoingMessage {
        OutgoingMessage {
            tenant: TenantId::parse("acme").unwrap(),
            tenant_name: "Acme".into(),
            channel: Channel::Email,
            to: Identifier::parse(to, None).unwrap(),
            content: MessageContent::Code(OtpCode::parse(code, CodeLength::DEFAULT).unwrap()),
            expires_in_secs: 600,
        }
    }

    #[tokio::test]
    async fn keeps_the_last_messages_and_filters_them_by_destination() {
        let outbox = Outbox::new(2, true);
        for (to, code) in [
            ("a@example.com", "111111"),
            ("b@example.com", "222222"),
            ("a@example.com", "333333"),
        ] {
            outbox.send(&code_to(to, code)).await.unwrap();
        }
        let kept: Vec<u64> = outbox.messages(None).iter().map(|m| m.id).collect();
        assert_eq!(kept, [2, 3], "the oldest message makes room");
        let to_a = outbox.messages(Some("a@example.com"));
        assert_eq!(to_a.len(), 1);
        assert!(to_a[0].text.contains("333333"));
        assert!(outbox.messages(Some("c@example.com")).is_empty());
        assert_eq!(outbox.latest("a@example.com").unwrap().secret, "333333");
        assert!(outbox.latest("c@example.com").is_none());
    }
}
