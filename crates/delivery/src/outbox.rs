//! The dev outbox: messages are printed to the console and the last ones kept for
//! `GET /dev/outbox`. Only the local server links it (see `authkit-app`'s `dev-outbox`
//! feature): it shows codes in clear, which is its whole point and why it never ships.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use authkit_domain::delivery::{DeliveryError, DeliveryReceipt, OutgoingMessage, Sender};
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

    pub fn messages(&self) -> Vec<OutboxMessage> {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect()
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
