# A user pool for passwordless sign-in (CUSTOM_AUTH only) with AuthKit's triggers, and a
# public app client; or the triggers' permissions on an existing pool.

variable "name" { type = string }
variable "existing_user_pool_id" { type = string }
variable "trigger_arns" {
  type = object({
    define_auth_challenge = string
    create_auth_challenge = string
    verify_auth_challenge = string
    pre_sign_up           = string
  })
}

locals {
  create_pool = var.existing_user_pool_id == ""
  pool_id     = local.create_pool ? aws_cognito_user_pool.this[0].id : var.existing_user_pool_id
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_cognito_user_pool" "this" {
  count = local.create_pool ? 1 : 0
  name  = var.name

  username_attributes      = ["email", "phone_number"]
  auto_verified_attributes = []
  deletion_protection      = "ACTIVE"
  mfa_configuration        = "OFF" # AuthKit's code is the factor; Cognito MFA would add a second prompt.

  # Required by Cognito but unusable: the app client allows CUSTOM_AUTH only.
  password_policy {
    minimum_length    = 64
    require_lowercase = true
    require_numbers   = true
    require_symbols   = true
    require_uppercase = false
  }

  user_pool_add_ons {
    advanced_security_mode = "AUDIT"
  }

  lambda_config {
    define_auth_challenge          = var.trigger_arns.define_auth_challenge
    create_auth_challenge          = var.trigger_arns.create_auth_challenge
    verify_auth_challenge_response = var.trigger_arns.verify_auth_challenge
    pre_sign_up                    = var.trigger_arns.pre_sign_up
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_client" "public" {
  count        = local.create_pool ? 1 : 0
  name         = "${var.name}-public"
  user_pool_id = aws_cognito_user_pool.this[0].id

  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  access_token_validity         = 60
  id_token_validity             = 60
  refresh_token_validity        = 30
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

resource "aws_lambda_permission" "triggers" {
  for_each = var.trigger_arns

  statement_id  = "cognito-${replace(each.key, "_", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = each.value
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = "arn:aws:cognito-idp:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:userpool/${local.pool_id}"
}

output "user_pool_id" {
  value = local.pool_id
}

output "user_pool_arn" {
  value = "arn:aws:cognito-idp:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:userpool/${local.pool_id}"
}

output "client_id" {
  value = local.create_pool ? aws_cognito_user_pool_client.public[0].id : ""
}
