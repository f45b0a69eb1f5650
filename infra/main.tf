# AuthKit's whole stack. Table definitions come from crates/dynamodb/tables.json (the single
# source of truth); the function list below must name every binary in lambdas/src/bin
# (tests/infra/check_stack.py fails otherwise).

locals {
  name   = "authkit-${var.environment}"
  tables = jsondecode(file("${path.module}/../crates/dynamodb/tables.json")).tables

  # Every Lambda binary: its HTTP routes (none for Cognito triggers and the events
  # consumer), size, and exactly the tables and services it touches (its IAM role allows
  # these and nothing else). Functions that change state write their events to the events
  # table; only the events consumer writes the audit log (and health reads it).
  sign_in_tables = ["challenges", "counters", "events", "directory"]
  functions = {
    "authkit-start"                 = { routes = ["POST /v1/auth/start"], memory = 256, timeout = 10, tables = local.sign_in_tables, send = true, cognito = false, authorizer = false }
    "authkit-verify"                = { routes = ["POST /v1/auth/verify", "POST /v1/auth/device", "GET /v1/auth/link", "HEAD /v1/auth/link", "POST /v1/auth/link"], memory = 256, timeout = 10, tables = concat(local.sign_in_tables, ["devices"]), send = false, cognito = false, authorizer = false }
    "authkit-resend"                = { routes = ["POST /v1/auth/resend"], memory = 256, timeout = 10, tables = local.sign_in_tables, send = true, cognito = false, authorizer = false }
    "authkit-token"                 = { routes = ["POST /v1/token/refresh", "POST /v1/token/revoke", "POST /v1/token/introspect"], memory = 256, timeout = 10, tables = ["directory", "events"], send = false, cognito = false, authorizer = false }
    "authkit-devices"               = { routes = ["POST /v1/devices", "GET /v1/devices", "DELETE /v1/devices/{id}"], memory = 256, timeout = 10, tables = ["devices", "directory", "events"], send = false, cognito = false, authorizer = true }
    "authkit-health"                = { routes = ["GET /health", "GET /live", "GET /ready"], memory = 128, timeout = 5, tables = ["audit"], send = false, cognito = false, authorizer = false }
    "authkit-discovery"             = { routes = ["GET /.well-known/jwks.json", "GET /.well-known/openid-configuration", "GET /openapi.json"], memory = 128, timeout = 5, tables = [], send = false, cognito = false, authorizer = false }
    "authkit-cognito-sign-up"       = { routes = ["POST /v1/cognito/users"], memory = 256, timeout = 10, tables = ["directory"], send = false, cognito = true, authorizer = false }
    "authkit-define-auth-challenge" = { routes = [], memory = 128, timeout = 5, tables = [], send = false, cognito = false, authorizer = false }
    "authkit-create-auth-challenge" = { routes = [], memory = 256, timeout = 5, tables = local.sign_in_tables, send = true, cognito = false, authorizer = false }
    "authkit-verify-auth-challenge" = { routes = [], memory = 256, timeout = 5, tables = local.sign_in_tables, send = false, cognito = true, authorizer = false }
    "authkit-pre-sign-up"           = { routes = [], memory = 128, timeout = 5, tables = [], send = false, cognito = false, authorizer = false }
    "authkit-events"                = { routes = [], memory = 256, timeout = 60, tables = ["audit"], send = false, cognito = false, authorizer = false }
  }
  issuer = var.issuer_url != "" ? var.issuer_url : aws_apigatewayv2_api.this.api_endpoint

  # What every function reads (docs/configuration.md). Routes see paths without a stage
  # prefix, so the functions also work behind a named stage or a REST API front.
  function_environment = merge(
    { for table in local.tables : table.env => module.data.table_names[table.name] },
    {
      AUTHKIT_STORE                        = "dynamodb"
      AUTHKIT_DELIVERY                     = "aws"
      AUTHKIT_KEYS_SECRET_ID               = module.keys.keys_secret_arn
      AUTHKIT_ISSUER                       = local.issuer
      AUTHKIT_PUBLIC_BASE_URL              = local.issuer
      AUTHKIT_SES_FROM                     = var.ses_from
      AUTHKIT_SES_CONFIGURATION_SET        = module.delivery.configuration_set_name
      AUTHKIT_SNS_SENDER_ID                = var.sms_sender_id
      AUTHKIT_COGNITO_TENANT               = var.cognito_tenant
      AUTHKIT_COGNITO_MAX_ATTEMPTS         = tostring(var.cognito_max_attempts)
      AWS_LAMBDA_LOG_FORMAT                = "JSON"
      AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH = "true"
    },
  )
}

module "keys" {
  source = "./modules/keys"
  name   = local.name
}

module "data" {
  source              = "./modules/data"
  name                = local.name
  tables              = local.tables
  kms_key_arn         = module.keys.kms_key_arn
  deletion_protection = var.environment != "dev"
}

module "delivery" {
  source                  = "./modules/delivery"
  name                    = local.name
  ses_domain              = var.ses_domain
  sms_monthly_spend_limit = var.sms_monthly_spend_limit
  sms_sender_id           = var.sms_sender_id
  kms_key_arn             = module.keys.kms_key_arn
}

module "cognito" {
  source                = "./modules/cognito"
  name                  = local.name
  existing_user_pool_id = var.existing_user_pool_id
  trigger_arns = {
    define_auth_challenge = module.functions.arns["authkit-define-auth-challenge"]
    create_auth_challenge = module.functions.arns["authkit-create-auth-challenge"]
    verify_auth_challenge = module.functions.arns["authkit-verify-auth-challenge"]
    pre_sign_up           = module.functions.arns["authkit-pre-sign-up"]
  }
}

# The API is created here, before the functions, because they need its URL as their
# issuer; routes and integrations (which need the functions) live in the api module.
resource "aws_apigatewayv2_api" "this" {
  name          = local.name
  protocol_type = "HTTP"
  cors_configuration {
    allow_origins = var.cors_allowed_origins
    allow_methods = ["GET", "POST", "DELETE", "HEAD"]
    allow_headers = ["content-type", "authorization", "x-api-key"]
    max_age       = 600
  }
}

# The sign-up function needs the user pool's id, and the pool needs the trigger functions:
# two instances of one module keep that from being a cycle.
module "functions" {
  source         = "./modules/functions"
  name           = local.name
  functions      = { for name, fn in local.functions : name => fn if name != "authkit-cognito-sign-up" }
  zip_dir        = var.lambda_zip_dir
  log_retention  = var.log_retention_days
  kms_key_arn    = module.keys.kms_key_arn
  table_arns     = module.data.table_arns
  keys_secret    = module.keys.keys_secret_arn
  ses_identity   = module.delivery.ses_identity_arn
  ses_config_set = module.delivery.configuration_set_arn
  # Triggers learn the pool from their events; only its ARN pattern is needed here.
  user_pool_arn = "arn:aws:cognito-idp:${var.region}:${data.aws_caller_identity.current.account_id}:userpool/*"
  environment   = local.function_environment
}

module "sign_up_function" {
  source         = "./modules/functions"
  name           = local.name
  functions      = { "authkit-cognito-sign-up" = local.functions["authkit-cognito-sign-up"] }
  zip_dir        = var.lambda_zip_dir
  log_retention  = var.log_retention_days
  kms_key_arn    = module.keys.kms_key_arn
  table_arns     = module.data.table_arns
  keys_secret    = module.keys.keys_secret_arn
  ses_identity   = module.delivery.ses_identity_arn
  ses_config_set = module.delivery.configuration_set_arn
  # The one function that calls the user pool's admin API: that pool, by ARN and by id.
  user_pool_arn = module.cognito.user_pool_arn
  environment   = merge(local.function_environment, { AUTHKIT_COGNITO_USER_POOL_ID = module.cognito.user_pool_id })
}

data "aws_caller_identity" "current" {}

# The event pipeline: the events table's stream feeds the authkit-events function, with
# retries, batch splitting and a dead-letter queue.
module "events" {
  source          = "./modules/events"
  name            = local.name
  stream_arn      = module.data.stream_arns["events"]
  function_name   = module.functions.names["authkit-events"]
  role_name       = module.functions.role_names["authkit-events"]
  audit_table_arn = module.data.table_arns["audit"]
  kms_key_arn     = module.keys.kms_key_arn
}

module "api" {
  source         = "./modules/api"
  name           = local.name
  api_id         = aws_apigatewayv2_api.this.id
  api_endpoint   = aws_apigatewayv2_api.this.api_endpoint
  api_exec_arn   = aws_apigatewayv2_api.this.execution_arn
  functions      = local.functions
  invoke_arns    = module.functions.invoke_arns
  function_names = module.functions.names
  issuer         = local.issuer
  throttle_rate  = var.api_throttle_rate
  throttle_burst = var.api_throttle_burst
  log_retention  = var.log_retention_days
  kms_key_arn    = module.keys.kms_key_arn
  enable_waf     = var.enable_waf_front
  waf_rate_limit = var.waf_rate_limit
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
}

module "operations" {
  source         = "./modules/operations"
  name           = local.name
  region         = var.region
  api_id         = aws_apigatewayv2_api.this.id
  function_names = merge(module.functions.names, module.sign_up_function.names)
  log_groups     = merge(module.functions.log_groups, module.sign_up_function.log_groups)
  table_names    = module.data.table_names
  events_queue   = module.events.dead_letter_queue_name
  ses_config_set = module.delivery.configuration_set_name
  kms_key_arn    = module.keys.kms_key_arn
  alarm_email    = var.alarm_email
}
