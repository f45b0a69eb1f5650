# SMS through SNS (transactional, with a monthly spend cap) and email through SES (domain
# identity with DKIM, a configuration set publishing bounces and complaints).

variable "name" { type = string }
variable "ses_domain" { type = string }
variable "manage_sms_preferences" { type = bool }
variable "sms_monthly_spend_limit" { type = number }
variable "sms_sender_id" { type = string }
variable "kms_key_arn" { type = string }

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

# One per account and region: only the environment with manage_sms_preferences owns it, so
# environments sharing an account do not overwrite each other (nor reset it on destroy).
# AuthKit marks each SMS Transactional itself; this sets the account's spend cap.
resource "aws_sns_sms_preferences" "this" {
  count               = var.manage_sms_preferences ? 1 : 0
  default_sms_type    = "Transactional"
  monthly_spend_limit = var.sms_monthly_spend_limit
  default_sender_id   = var.sms_sender_id != "" ? var.sms_sender_id : null
}

resource "aws_sesv2_email_identity" "domain" {
  email_identity         = var.ses_domain
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
}

resource "aws_sesv2_configuration_set" "this" {
  configuration_set_name = var.name
  delivery_options {
    tls_policy = "REQUIRE"
  }
  reputation_options {
    reputation_metrics_enabled = true
  }
  sending_options {
    sending_enabled = true
  }
}

resource "aws_sns_topic" "feedback" {
  name              = "${var.name}-email-feedback"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sesv2_configuration_set_event_destination" "feedback" {
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = "bounces-and-complaints"
  event_destination {
    enabled              = true
    matching_event_types = ["BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY"]
    sns_destination {
      topic_arn = aws_sns_topic.feedback.arn
    }
  }
}

resource "aws_sesv2_configuration_set_event_destination" "metrics" {
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = "metrics"
  event_destination {
    enabled              = true
    matching_event_types = ["SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT"]
    cloud_watch_destination {
      dimension_configuration {
        default_dimension_value = "authkit"
        dimension_name          = "service"
        dimension_value_source  = "MESSAGE_TAG"
      }
    }
  }
}

# Built from names, so the functions' policies are known when planned.
output "ses_identity_arn" {
  value = "arn:aws:ses:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:identity/${aws_sesv2_email_identity.domain.email_identity}"
}

output "configuration_set_name" {
  value = aws_sesv2_configuration_set.this.configuration_set_name
}

output "configuration_set_arn" {
  value = "arn:aws:ses:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:configuration-set/${aws_sesv2_configuration_set.this.configuration_set_name}"
}

output "feedback_topic_arn" {
  value = aws_sns_topic.feedback.arn
}

output "dkim_records" {
  value = [for token in aws_sesv2_email_identity.domain.dkim_signing_attributes[0].tokens : {
    name  = "${token}._domainkey.${var.ses_domain}"
    type  = "CNAME"
    value = "${token}.dkim.amazonses.com"
  }]
}
