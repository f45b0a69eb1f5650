//! SMS through Amazon SNS (transactional) and email through Amazon SES v2.

use async_trait::async_trait;
use authkit_domain::delivery::{DeliveryError, DeliveryReceipt, OutgoingMessage, Sender};
use authkit_domain::identifier::Channel;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::templates::Templates;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSenderSettings {
    pub ses_from: String,
    pub ses_configuration_set: Option<String>,
    pub sns_sender_id: Option<String>,
    pub sns_origination_number: Option<String>,
}

pub struct AwsSender {
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_sesv2::Client,
    settings: AwsSenderSettings,
    templates: Templates,
}

impl AwsSender {
    pub fn new(
        sns: aws_sdk_sns::Client,
        ses: aws_sdk_sesv2::Client,
        settings: AwsSenderSettings,
    ) -> AwsSender {
        AwsSender {
            sns,
            ses,
            settings,
            templates: Templates::default(),
        }
    }

    async fn send_sms(
        &self,
        message: &OutgoingMessage,
        text: String,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
        };
        let mut request = self
            .sns
            .publish()
            .phone_number(message.to.as_str())
            .message(text)
            // Transactional: higher delivery priority, and no marketing opt-out keyword rules.
            .message_attributes(
                "AWS.SNS.SMS.SMSType",
                attribute("Transactional").map_err(rejected)?,
            );
        if let Some(sender_id) = &self.settings.sns_sender_id {
            request = request.message_attributes(
                "AWS.SNS.SMS.SenderID",
                attribute(sender_id).map_err(rejected)?,
            );
        }
        if let Some(number) = &self.settings.sns_origination_number {
            request = request.message_attributes(
                "AWS.MM.SMS.OriginationNumber",
                attribute(number).map_err(rejected)?,
            );
        }
        let output = request
            .send()
            .await
            .map_err(|error| classify(error.into_service_error()))?;
        Ok(DeliveryReceipt {
            provider_message_id: output.message_id().unwrap_or_default().to_owned(),
        })
    }

    async fn send_email(
        &self,
        message: &OutgoingMessage,
        subject: String,
        text: String,
        html: String,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        let content = |data: String| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(rejected)
        };
        let email = Message::builder()
            .subject(content(subject)?)
            .body(
                Body::builder()
                    .text(content(text)?)
                    .html(content(html)?)
                    .build(),
            )
            .build();
        let output = self
            .ses
            .send_email()
            .from_email_address(&self.settings.ses_from)
            .destination(
                Destination::builder()
                    .to_addresses(message.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(email).build())
            .set_configuration_set_name(self.settings.ses_configuration_set.clone())
            .send()
            .await
            .map_err(|error| classify(error.into_service_error()))?;
        Ok(DeliveryReceipt {
            provider_message_id: output.message_id().unwrap_or_default().to_owned(),
        })
    }
}

#[async_trait]
impl Sender for AwsSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let rendered = self.templates.render(message);
        match message.channel {
            Channel::Sms => self.send_sms(message, rendered.text).await,
            Channel::Email => {
                let subject = rendered.subject.unwrap_or_default();
                self.send_email(
                    message,
                    subject,
                    rendered.text,
                    rendered.html.unwrap_or_default(),
                )
                .await
            }
            Channel::Whatsapp => Err(DeliveryError::ChannelUnavailable(Channel::Whatsapp)),
        }
    }

    /// WhatsApp needs AWS End User Messaging Social, which this build does not link.
    fn reaches(&self, channel: Channel) -> bool {
        channel != Channel::Whatsapp
    }
}

fn rejected(error: impl std::error::Error + Send + Sync + 'static) -> DeliveryError {
    DeliveryError::Rejected(Box::new(error))
}

/// Throttling and server-side failures may pass; anything else is the provider refusing
/// this message (opted-out number, unverified sender, invalid address).
fn classify<E>(error: E) -> DeliveryError
where
    E: aws_sdk_sns::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = matches!(
        error.code(),
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "TooManyRequestsException"
                | "InternalError"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "KMSThrottlingException"
        )
    ) || error.code().is_none();
    if transient {
        DeliveryError::Unavailable(Box::new(error))
    } else {
        DeliveryError::Rejected(Box::new(error))
    }
}
