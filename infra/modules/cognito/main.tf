# A user pool for passwordless sign-in (CUSTOM_AUTH only) with AuthKit's triggers and a
# public app client; or, on an existing pool, everything but the triggers (the provider
# cannot attach triggers to a pool it does not own: docs/cognito.md lists the manual step).
#
# Sign-up is closed to the public (AdminCreateUser only, through AuthKit's route) and the
# app client cannot write contacts or their verified flags: a stranger cannot create the
# victim's account with their own phone, nor a user swap in an address no code proved.

variable "name" { type = string }
variable "existing_user_pool_id" { type = string }
variable "tier" { type = string }
variable "threat_protection" { type = string }
variable "deletion_protection" { type = bool }
variable "triggers" {
  description = "Cognito trigger => the live alias of its function."
  type = object({
    define_auth_challenge = object({ arn = string, function_name = string, name = string })
    create_auth_challenge = object({ arn = string, function_name = string, name = string })
    verify_auth_challenge = object({ arn = string, function_name = string, name = string })
    pre_sign_up           = object({ arn = string, function_name = string, name = string })
  })
}
variable "pool_roles" {
  description = "Function roles that call the pool's admin API => the actions they need, on this pool only."
  type        = map(object({ role = string, actions = list(string) }))
}

locals {
  create_pool = var.existing_user_pool_id == ""
  pool_id     = local.create_pool ? aws_cognito_user_pool.this[0].id : var.existing_user_pool_id
  pool_arn    = local.create_pool ? aws_cognito_user_pool.this[0].arn : "arn:aws:cognito-idp:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:userpool/${var.existing_user_pool_id}"
  # Contacts and their verified flags are written only by AuthKit's functions, after a
  # code proved the contact (decision 19). An empty list would let the client write every
  # attribute, so it names the harmless ones.
  client_write_attributes = ["name", "locale", "zoneinfo"]
  client_read_attributes  = concat(["email", "email_verified", "phone_number", "phone_number_verified"], local.client_write_attributes)
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_cognito_user_pool" "this" {
  count = local.create_pool ? 1 : 0
  name  = var.name

  username_attributes      = ["email", "phone_number"]
  auto_verified_attributes = []
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = "OFF" # AuthKit's code is the factor; Cognito MFA would add a second prompt.
  user_pool_tier           = var.tier

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  # Required by Cognito but unusable: the app client allows CUSTOM_AUTH only.
  password_policy {
    minimum_length    = 64
    require_lowercase = true
    require_numbers   = true
    require_symbols   = true
    require_uppercase = false
  }

  dynamic "user_pool_add_ons" {
    for_each = var.threat_protection != "OFF" ? [1] : []
    content {
      advanced_security_mode = var.threat_protection
      advanced_security_additional_flows {
        custom_auth_mode = var.threat_protection
      }
    }
  }

  lambda_config {
    define_auth_challenge          = var.triggers.define_auth_challenge.arn
    create_auth_challenge          = var.triggers.create_auth_challenge.arn
    verify_auth_challenge_response = var.triggers.verify_auth_challenge.arn
    pre_sign_up                    = var.triggers.pre_sign_up.arn
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_client" "public" {
  name         = "${var.name}-public"
  user_pool_id = local.pool_id

  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  read_attributes               = local.client_read_attributes
  write_attributes              = local.client_write_attributes
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
  for_each = var.triggers

  statement_id  = "cognito-${replace(each.key, "_", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  qualifier     = each.value.name
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = local.pool_arn
}

# Separate from the functions' own policies: the pool needs the trigger functions first,
# so a policy naming the pool can only be attached after both exist.
data "aws_iam_policy_document" "pool" {
  for_each = var.pool_roles
  statement {
    sid       = "ThisUserPool"
    actions   = [for action in each.value.actions : "cognito-idp:${action}"]
    resources = [local.pool_arn]
  }
}

resource "aws_iam_role_policy" "pool" {
  for_each = var.pool_roles
  name     = "user-pool"
  role     = each.value.role
  policy   = data.aws_iam_policy_document.pool[each.key].json
}

output "user_pool_id" {
  value = local.pool_id
}

output "user_pool_arn" {
  value = local.pool_arn
}

output "client_id" {
  value = aws_cognito_user_pool_client.public.id
}
