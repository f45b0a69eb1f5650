//! Delivery for AuthKit: SMS through Amazon SNS, email through Amazon SES (v2), and a dev
//! outbox for local runs. Message texts are templates (data under `templates/`), rendered
//! here so every sender says the same thing.

mod aws;
mod outbox;
mod templates;

pub use aws::{AwsSender, AwsSenderSettings};
pub use outbox::{Outbox, OutboxMessage};
pub use templates::{RenderedMessage, Templates};
