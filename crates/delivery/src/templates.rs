//! Message templates: plain data with `{{placeholder}}`s, so tenants can override them
//! without a code change. HTML templates get HTML-escaped values (tenant names and links
//! are not trusted markup).

use std::collections::HashMap;

use authkit_domain::delivery::{InvitationPurpose, MessageContent, OutgoingMessage};
use authkit_domain::html::escape_html;
use authkit_domain::identifier::Channel;

/// One template per (content kind, channel, part).
#[derive(Debug, Clone)]
pub struct Templates {
    parts: HashMap<&'static str, String>,
}

const DEFAULTS: [(&str, &str); 16] = [
    ("code.sms.txt", include_str!("../templates/code.sms.txt")),
    (
        "code.email.subject.txt",
        include_str!("../templates/code.email.subject.txt"),
    ),
    (
        "code.email.txt",
        include_str!("../templates/code.email.txt"),
    ),
    (
        "code.email.html",
        include_str!("../templates/code.email.html"),
    ),
    (
        "magic_link.sms.txt",
        include_str!("../templates/magic_link.sms.txt"),
    ),
    (
        "magic_link.email.subject.txt",
        include_str!("../templates/magic_link.email.subject.txt"),
    ),
    (
        "magic_link.email.txt",
        include_str!("../templates/magic_link.email.txt"),
    ),
    (
        "magic_link.email.html",
        include_str!("../templates/magic_link.email.html"),
    ),
    (
        "invitation.sms.txt",
        include_str!("../templates/invitation.sms.txt"),
    ),
    (
        "invitation.email.subject.txt",
        include_str!("../templates/invitation.email.subject.txt"),
    ),
    (
        "invitation.email.txt",
        include_str!("../templates/invitation.email.txt"),
    ),
    (
        "invitation.email.html",
        include_str!("../templates/invitation.email.html"),
    ),
    (
        "signup_invitation.sms.txt",
        include_str!("../templates/signup_invitation.sms.txt"),
    ),
    (
        "signup_invitation.email.subject.txt",
        include_str!("../templates/signup_invitation.email.subject.txt"),
    ),
    (
        "signup_invitation.email.txt",
        include_str!("../templates/signup_invitation.email.txt"),
    ),
    (
        "signup_invitation.email.html",
        include_str!("../templates/signup_invitation.email.html"),
    ),
];

impl Default for Templates {
    fn default() -> Self {
        Templates {
            parts: DEFAULTS
                .iter()
                .map(|(name, text)| (*name, (*text).to_owned()))
                .collect(),
        }
    }
}

/// What a sender puts on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    /// Email only.
    pub subject: Option<String>,
    pub text: String,
    /// Email only.
    pub html: Option<String>,
}

impl Templates {
    /// The defaults with some parts replaced (keys as the file names under `templates/`).
    /// Unknown names are refused so a typo does not silently keep the default.
    pub fn with_overrides(overrides: HashMap<String, String>) -> Result<Templates, String> {
        let mut templates = Templates::default();
        for (name, text) in overrides {
            let Some((key, _)) = DEFAULTS.iter().find(|(known, _)| *known == name) else {
                return Err(format!("unknown template `{name}`"));
            };
            templates.parts.insert(key, text);
        }
        Ok(templates)
    }

    pub fn render(&self, message: &OutgoingMessage) -> RenderedMessage {
        let (kind, mut values) = match &message.content {
            MessageContent::Code(code) => ("code", vec![("code", code.expose().to_owned())]),
            MessageContent::MagicLink(link) => ("magic_link", vec![("link", link.to_string())]),
            MessageContent::Invitation(notice) => (
                match notice.purpose {
                    InvitationPurpose::Membership => "invitation",
                    InvitationPurpose::SignUp => "signup_invitation",
                },
                vec![
                    ("role", notice.role.as_str().to_owned()),
                    (
                        "console",
                        notice
                            .console_url
                            .clone()
                            .unwrap_or_else(|| "the AuthKit console".to_owned()),
                    ),
                    (
                        "expires_days",
                        message.expires_in_secs.div_ceil(86_400).to_string(),
                    ),
                ],
            ),
        };
        values.push(("tenant_name", message.tenant_name.clone()));
        values.push((
            "expires_minutes",
            message.expires_in_secs.div_ceil(60).to_string(),
        ));
        let part = |name: &str, escape: bool| {
            fill(
                &self.parts[format!("{kind}.{name}").as_str()],
                &values,
                escape,
            )
        };
        match message.channel {
            Channel::Sms | Channel::Whatsapp => RenderedMessage {
                subject: None,
                text: part("sms.txt", false).trim_end().to_owned(),
                html: None,
            },
            Channel::Email => RenderedMessage {
                subject: Some(part("email.subject.txt", false).trim().to_owned()),
                text: part("email.txt", false),
                html: Some(part("email.html", true)),
            },
        }
    }
}

fn fill(template: &str, values: &[(&str, String)], escape: bool) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        let value = if escape {
            escape_html(value)
        } else {
            value.clone()
        };
        out = out.replace(&format!("{{{{{name}}}}}"), &value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use authkit_domain::delivery::InvitationNotice;
    use authkit_domain::identifier::Identifier;
    use authkit_domain::member::Role;
    use authkit_domain::secret::{CodeLength, OtpCode};
    use authkit_domain::tenant::TenantId;

    fn message(channel: Channel, content: MessageContent, tenant_name: &str) -> OutgoingMessage {
        let to = match channel {
            Channel::Email => Identifier::parse("a@example.com", None).unwrap(),
            _ => Identifier::parse("+14155552671", None).unwrap(),
        };
        OutgoingMessage {
            tenant: TenantId::parse("acme").unwrap(),
            tenant_name: tenant_name.into(),
            channel,
            to,
            content,
            expires_in_secs: 600,
        }
    }

    #[test]
    fn an_sms_code_is_one_short_segment_with_the_code_first() {
        let code = OtpCode::parse("123456", CodeLength::DEFAULT).unwrap();
        let rendered =
            Templates::default().render(&message(Channel::Sms, MessageContent::Code(code), "Acme"));
        assert!(rendered
            .text
            .starts_with("123456 is your Acme sign-in code"));
        assert!(
            rendered.text.len() <= 160,
            "{} characters",
            rendered.text.len()
        );
        assert_eq!(rendered.subject, None);
    }

    #[test]
    fn an_email_link_has_a_button_and_the_plain_url() {
        let link = "https://auth.example.com/v1/auth/link?tenant=acme&challenge_id=ch_1&token=t"
            .to_owned();
        let rendered = Templates::default().render(&message(
            Channel::Email,
            MessageContent::MagicLink(link.clone().into()),
            "Acme",
        ));
        let html = rendered.html.unwrap();
        assert_eq!(html.matches("href=").count(), 2);
        assert!(html.contains("tenant=acme&amp;challenge_id=ch_1"));
        assert!(rendered.text.contains(&link));
        assert_eq!(rendered.subject.as_deref(), Some("Your Acme sign-in link"));
    }

    #[test]
    fn tenant_names_are_escaped_in_html_only() {
        let code = OtpCode::parse("123456", CodeLength::DEFAULT).unwrap();
        let rendered = Templates::default().render(&message(
            Channel::Email,
            MessageContent::Code(code),
            "<script>x</script>",
        ));
        assert!(!rendered.html.unwrap().contains("<script>"));
        assert!(rendered.text.contains("<script>x</script>"));
    }

    fn invitation(
        purpose: InvitationPurpose,
        console_url: Option<&str>,
        tenant_name: &str,
    ) -> RenderedMessage {
        let mut invitation = message(
            Channel::Email,
            MessageContent::Invitation(InvitationNotice {
                role: Role::Admin,
                console_url: console_url.map(str::to_owned),
                purpose,
            }),
            tenant_name,
        );
        invitation.expires_in_secs = 7 * 86_400;
        Templates::default().render(&invitation)
    }

    #[test]
    fn an_invitation_names_the_tenant_role_console_and_days_left() {
        let notice =
            |console_url| invitation(InvitationPurpose::Membership, console_url, "Acme & Co");
        let rendered = notice(Some("https://console.example.com"));
        assert_eq!(
            rendered.subject.as_deref(),
            Some("You are invited to manage Acme & Co")
        );
        assert!(rendered.text.contains("Acme & Co as admin"));
        assert!(rendered
            .text
            .contains("sign in to https://console.example.com"));
        assert!(rendered.text.contains("expires in\n7 days"));
        assert!(rendered.html.unwrap().contains("Acme &amp; Co"));
        let without_console = notice(None);
        assert!(without_console
            .text
            .contains("sign in to the AuthKit console"));
        assert!(!without_console.text.contains("{{"));
    }

    #[test]
    fn a_sign_up_invitation_asks_to_sign_up_and_names_no_role() {
        let rendered = invitation(
            InvitationPurpose::SignUp,
            Some("https://console.example.com"),
            "Acme Cloud",
        );
        assert_eq!(
            rendered.subject.as_deref(),
            Some("You are invited to sign up for Acme Cloud")
        );
        let html = rendered.html.unwrap();
        for text in [&rendered.text, &html] {
            assert!(
                text.contains("sign up at https://console.example.com"),
                "{text}"
            );
            assert!(text.contains("7 days"));
            assert!(!text.contains("admin") && !text.contains("{{"), "{text}");
        }
    }

    #[test]
    fn overrides_replace_a_part_and_unknown_names_are_refused() {
        let overrides = HashMap::from([("code.sms.txt".to_owned(), "Code: {{code}}".to_owned())]);
        let templates = Templates::with_overrides(overrides).unwrap();
        let code = OtpCode::parse("654321", CodeLength::DEFAULT).unwrap();
        assert_eq!(
            templates
                .render(&message(Channel::Sms, MessageContent::Code(code), "Acme"))
                .text,
            "Code: 654321"
        );
        assert!(Templates::with_overrides(HashMap::from([(
            "code.fax.txt".to_owned(),
            String::new()
        )]))
        .is_err());
    }
}
