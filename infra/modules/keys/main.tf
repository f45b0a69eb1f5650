# The stack's customer-managed KMS key (rotation on) and the secrets it encrypts: the JWT
# signing key set, the pepper (its own secret: only the functions that hash codes, tokens
# or API keys may read it), and delivery-provider credentials.

variable "name" { type = string }
variable "recovery_window_days" {
  description = "Secrets Manager recovery window; 0 deletes at once (dev, so a teardown can be re-applied)."
  type        = number
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:In a key policy "*" means this key only; write access is the account root's, as AWS's default key policy grants.
  #checkov:skip=CKV_AWS_356:In a key policy "*" means this key only.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (AWS's default key policy); the services' statements are scoped by conditions.
  # The account administers the key; services use it only through the grants their
  # integrations create, scoped to this account.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
  statement {
    sid       = "SnsTopicsEncrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "ses.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: tables, secrets, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# Values are written out of band (docs/deploy.md: "first deploy") so private keys and the
# pepper never enter Terraform state.
resource "aws_secretsmanager_secret" "keys" {
  #checkov:skip=CKV2_AWS_57:Signing keys rotate by prepending a key and dropping the old one after the token lifetime (docs/runbooks/rotate-keys.md); there is nothing for a rotation Lambda to do.
  name                    = "${var.name}/keys"
  description             = "AuthKit JWT signing key set (JSON: signing_keys)."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

resource "aws_secretsmanager_secret" "pepper" {
  #checkov:skip=CKV2_AWS_57:The pepper keys every stored hash and must never change for the life of a deployment.
  name                    = "${var.name}/pepper"
  description             = "AuthKit pepper (JSON: pepper); never changes."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

resource "aws_secretsmanager_secret" "delivery" {
  #checkov:skip=CKV2_AWS_57:Provider credentials are rotated with the provider; nothing in AWS can rotate them.
  name                    = "${var.name}/delivery-providers"
  description             = "Credentials for non-AWS delivery providers (reserved for WhatsApp and others)."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
}

output "kms_key_arn" {
  value = aws_kms_key.this.arn
}

output "keys_secret_arn" {
  value = aws_secretsmanager_secret.keys.arn
}

output "keys_secret_name" {
  value = aws_secretsmanager_secret.keys.name
}

output "pepper_secret_arn" {
  value = aws_secretsmanager_secret.pepper.arn
}

output "pepper_secret_name" {
  value = aws_secretsmanager_secret.pepper.name
}

output "delivery_secret_arn" {
  value = aws_secretsmanager_secret.delivery.arn
}
