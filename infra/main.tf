# AuthKit's whole stack. Table definitions come from crates/dynamodb/tables.json (the single
# source of truth); the function list below must name every binary in lambdas/src/bin
# (tests/infra/check_stack.py fails otherwise), and `terraform plan` of every envs/*.tfvars
# is checked by tests/infra (policies, tags, alarms, runbook names).

locals {
  name   = "authkit-${var.environment}"
  dev    = var.environment == "dev"
  tables = jsondecode(file("${path.module}/../crates/dynamodb/tables.json")).tables

  # Every Lambda binary: its HTTP routes (none for Cognito triggers and the events
  # consumer), size, and exactly what it touches; its IAM role allows these and nothing
  # else (modules/functions):
  #   tables            read/write on these tables (no tenant or API-key records, ever)
  #   ping              read the audit table's readiness item only
  #   streams           read these tables' change streams
  #   appends           put items into these tables, nothing else (no reads, no updates)
  #   reads             query these tables, nothing else
  #   dead_letters      send to these queues (an event source mapping's failed batches)
  #   secrets           keys (JWT signing keys), pepper: the secrets it reads
  #   send              SMS through SNS, email through SES (challenges)
  #   email             email through SES only (member invitations)
  #   user_pool_actions cognito-idp actions on this stack's user pool only
  #   outcomes          the `outcome` log lines it writes, counted by metric filters
  #   registry          writes tenant and API-key records, members and invitations (and,
  #                     of the directory, only those, and reads the console tenant's
  #                     users and sessions to judge members' tokens); every other
  #                     function is denied them
  #   environment       variables only this function reads (AUTHKIT_SIGNUP)
  # Functions that change state write the change and its events in one transaction, the
  # events into the events table; only the events consumer writes the audit log, from the
  # events table's stream (and health reads the audit table's ping item).
  sign_in_tables = ["challenges", "counters", "events", "directory"]
  sending        = ["rate_limited", "delivery_failed"]
  answering      = ["verified", "wrong_code", "exhausted", "rate_limited"]
  no_access      = { tables = [], ping = false, streams = [], appends = [], reads = [], dead_letters = [], secrets = [], send = false, email = false, user_pool_actions = [], outcomes = [], registry = false, environment = {} }
  # Self-service sign-up (decision 150): the start on authkit-start, the console sign-in
  # on authkit-verify, the tenant's creation (a registry write) on authkit-tenant-api;
  # only these three are told the mode.
  signup_environment = { AUTHKIT_SIGNUP = var.signup }
  functions = {
    "authkit-start"                 = merge(local.no_access, { routes = ["POST /v1/auth/start", "POST /v1/me/identifier", "POST /v1/signup"], memory = 256, timeout = 10, tables = local.sign_in_tables, secrets = ["keys", "pepper"], send = true, outcomes = local.sending, environment = local.signup_environment })
    "authkit-verify"                = merge(local.no_access, { routes = ["POST /v1/auth/verify", "POST /v1/auth/device", "GET /v1/auth/link", "HEAD /v1/auth/link", "POST /v1/auth/link", "POST /v1/me/identifier/verify", "POST /v1/me/identifier/remove", "POST /v1/signup/verify"], memory = 256, timeout = 10, tables = concat(local.sign_in_tables, ["devices"]), secrets = ["keys", "pepper"], outcomes = local.answering, environment = local.signup_environment })
    "authkit-resend"                = merge(local.no_access, { routes = ["POST /v1/auth/resend"], memory = 256, timeout = 10, tables = local.sign_in_tables, secrets = ["keys", "pepper"], send = true, outcomes = local.sending })
    "authkit-token"                 = merge(local.no_access, { routes = ["POST /v1/token/refresh", "POST /v1/token/revoke", "POST /v1/token/introspect"], memory = 256, timeout = 10, tables = ["directory", "events"], secrets = ["keys", "pepper"] })
    "authkit-devices"               = merge(local.no_access, { routes = ["POST /v1/devices", "GET /v1/devices", "DELETE /v1/devices/{id}"], memory = 256, timeout = 10, tables = ["devices", "directory", "events"], secrets = ["keys", "pepper"] })
    "authkit-users"                 = merge(local.no_access, { routes = ["GET /v1/users", "GET /v1/users/{id}", "DELETE /v1/users/{id}", "POST /v1/users/{id}/disable", "POST /v1/users/{id}/enable", "GET /v1/users/{id}/devices", "GET /v1/users/{id}/sessions", "POST /v1/users/{id}/sessions/revoke", "GET /v1/users/{id}/export", "GET /v1/audit-events", "GET /v1/audit-events/export"], memory = 256, timeout = 30, tables = ["directory", "devices", "events", "challenges"], reads = ["audit"], secrets = ["keys", "pepper"] })
    "authkit-health"                = merge(local.no_access, { routes = ["GET /health", "GET /live", "GET /ready"], memory = 128, timeout = 5, ping = true })
    "authkit-discovery"             = merge(local.no_access, { routes = ["GET /.well-known/jwks.json", "GET /.well-known/openid-configuration", "GET /openapi.json"], memory = 128, timeout = 5, secrets = ["keys"] })
    "authkit-cognito-sign-up"       = merge(local.no_access, { routes = ["POST /v1/cognito/users", "POST /v1/cognito/contacts", "POST /v1/cognito/contacts/verify"], memory = 256, timeout = 10, tables = local.sign_in_tables, secrets = ["keys", "pepper"], send = true, user_pool_actions = ["AdminCreateUser", "AdminSetUserPassword", "AdminUpdateUserAttributes"], outcomes = distinct(concat(local.answering, local.sending)) })
    "authkit-define-auth-challenge" = merge(local.no_access, { routes = [], memory = 128, timeout = 5 })
    "authkit-create-auth-challenge" = merge(local.no_access, { routes = [], memory = 256, timeout = 5, tables = local.sign_in_tables, secrets = ["keys", "pepper"], send = true, outcomes = local.sending })
    "authkit-verify-auth-challenge" = merge(local.no_access, { routes = [], memory = 256, timeout = 5, tables = local.sign_in_tables, secrets = ["keys", "pepper"], user_pool_actions = ["AdminUpdateUserAttributes"], outcomes = local.answering })
    "authkit-pre-sign-up"           = merge(local.no_access, { routes = [], memory = 128, timeout = 5 })
    "authkit-events"                = merge(local.no_access, { routes = [], memory = 256, timeout = 60, streams = ["events"], appends = ["audit"], reads = ["audit"], dead_letters = [local.events_dead_letters] })
    "authkit-tenant-api"            = merge(local.no_access, { routes = ["GET /v1/tenant", "PATCH /v1/tenant", "GET /v1/api_keys", "POST /v1/api_keys", "GET /v1/api_keys/{id}", "POST /v1/api_keys/{id}/revoke", "POST /v1/api_keys/{id}/rotate", "GET /v1/members", "POST /v1/members", "PATCH /v1/members/{id}", "DELETE /v1/members/{id}", "GET /v1/invitations", "DELETE /v1/invitations/{id}", "GET /v1/memberships", "POST /v1/memberships/accept", "DELETE /v1/memberships/{tenant}", "POST /v1/signup/tenant"], memory = 256, timeout = 10, tables = ["directory", "events", "counters"], secrets = ["keys", "pepper"], email = true, registry = true, environment = local.signup_environment })
    # The operator API: no public route; its own HTTP API with IAM authorization (below).
    "authkit-admin" = merge(local.no_access, { routes = [], memory = 256, timeout = 30, tables = ["directory", "events", "counters"], secrets = ["keys", "pepper"], email = true, registry = true })
  }
  # The operator API's routes, on the admin HTTP API only.
  admin_routes = { "ANY /admin/v1/{proxy+}" = "authkit-admin" }
  # CORS preflight carries no API key, so it is answered alike for every tenant (the
  # request itself is judged per tenant): by the function that holds the least.
  preflight_routes = { "OPTIONS /{proxy+}" = "authkit-discovery" }
  # Where the events stream's mapping sends a batch that failed every retry (modules/events
  # creates it; the consumer's role may send to it by this name).
  events_dead_letters = "${local.name}-events-dead-letters"
  # The sign-up function needs the user pool's id, and the pool needs the trigger
  # functions: two instances of the functions module keep that from being a cycle.
  sign_up_function = "authkit-cognito-sign-up"

  # The public URL: the custom domain, else CloudFront's or API Gateway's host name.
  public_url = (var.domain_name != "" ? "https://${var.domain_name}"
  : var.enable_waf_front ? module.front[0].url : aws_apigatewayv2_api.this.api_endpoint)
  issuer = var.issuer_url != "" ? var.issuer_url : local.public_url

  # What every function reads (docs/configuration.md). Secrets are added per function.
  function_environment = merge(
    { for table in local.tables : table.env => module.data.table_names[table.name] },
    {
      AUTHKIT_STORE                 = "dynamodb"
      AUTHKIT_DELIVERY              = "aws"
      AUTHKIT_ISSUER                = local.issuer
      AUTHKIT_PUBLIC_BASE_URL       = local.issuer
      AUTHKIT_SES_FROM              = var.ses_from
      AUTHKIT_SES_CONFIGURATION_SET = module.delivery.configuration_set_name
      AUTHKIT_COGNITO_TENANT        = var.cognito_tenant
      AUTHKIT_COGNITO_MAX_ATTEMPTS  = tostring(var.cognito_max_attempts)
      AWS_LAMBDA_LOG_FORMAT         = "JSON"
    },
    var.sms_sender_id != "" ? { AUTHKIT_SNS_SENDER_ID = var.sms_sender_id } : {},
    var.sms_origination_number != "" ? { AUTHKIT_SNS_ORIGINATION_NUMBER = var.sms_origination_number } : {},
  )
  # What the functions behind API Gateway also read. Routes see paths without a stage
  # prefix, so they also work behind a named stage or a REST API front. Behind CloudFront
  # the client address is CloudFront's viewer address, and every request must carry the
  # origin secret (its SHA-256 is all the functions hold).
  http_environment = merge(
    {
      AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH = "true"
      AUTHKIT_CLIENT_IP_SOURCE             = var.enable_waf_front ? "cloudfront" : "direct"
    },
    # Origins for tenants without a list of their own (those from before tenants had one).
    length(var.cors_allowed_origins) > 0 ? { AUTHKIT_CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins) } : {},
    # A SHA-256 of 32+ random characters reveals nothing, and keeps plans readable.
    var.enable_waf_front ? { AUTHKIT_ORIGIN_SECRET_SHA256 = nonsensitive(sha256(var.origin_secret)) } : {},
  )
  # Functions name their secrets by name (Secrets Manager takes a name or an ARN): the
  # name is known when planned, so the functions' environments can be checked there.
  secrets = {
    keys   = { name = module.keys.keys_secret_name, env = "AUTHKIT_KEYS_SECRET_ID" }
    pepper = { name = module.keys.pepper_secret_name, env = "AUTHKIT_PEPPER_SECRET_ID" }
  }

  aliases   = merge(module.functions.aliases, module.sign_up_function.aliases)
  roles     = merge(module.functions.roles, module.sign_up_function.roles)
  log_group = merge(module.functions.log_groups, module.sign_up_function.log_groups)
  routes    = merge(local.preflight_routes, [for name, fn in local.functions : { for route in fn.routes : route => name }]...)
  outcomes  = distinct(flatten([for fn in local.functions : fn.outcomes]))
}

module "keys" {
  source               = "./modules/keys"
  name                 = local.name
  recovery_window_days = local.dev ? 0 : 30
}

module "data" {
  source              = "./modules/data"
  name                = local.name
  tables              = local.tables
  kms_key_arn         = module.keys.kms_key_arn
  deletion_protection = !local.dev
}

module "delivery" {
  source                  = "./modules/delivery"
  name                    = local.name
  ses_domain              = var.ses_domain
  manage_sms_preferences  = var.manage_sms_preferences
  sms_monthly_spend_limit = var.sms_monthly_spend_limit
  sms_sender_id           = var.sms_sender_id
  kms_key_arn             = module.keys.kms_key_arn
}

# The API is created here, before the functions, because they need its URL as their
# issuer; routes and integrations (which need the functions) live in the api module.
# With a custom domain and no CloudFront front, the execute-api endpoint is switched off;
# behind CloudFront it is the origin, guarded by the origin secret. No cors_configuration:
# it would replace the functions' CORS headers, which depend on the tenant (decision 104).
resource "aws_apigatewayv2_api" "this" {
  name                         = local.name
  protocol_type                = "HTTP"
  disable_execute_api_endpoint = var.domain_name != "" && !var.enable_waf_front
}

# The operator API: its own HTTP API, every route authorized by IAM (SigV4), reached at its
# execute-api endpoint and never through CloudFront (which rewrites the signed Host).
# Access is an IAM policy allowing execute-api:Invoke on it (docs/deploy.md).
resource "aws_apigatewayv2_api" "admin" {
  name          = "${local.name}-admin"
  protocol_type = "HTTP"
}

module "functions" {
  source                   = "./modules/functions"
  name                     = local.name
  functions                = { for name, fn in local.functions : name => fn if name != local.sign_up_function }
  zip_dir                  = var.lambda_zip_dir
  release                  = var.release
  log_retention            = var.log_retention_days
  kms_key_arn              = module.keys.kms_key_arn
  table_names              = module.data.table_names
  secrets                  = local.secrets
  ses_identity_arn         = module.delivery.ses_identity_arn
  ses_config_set_arn       = module.delivery.configuration_set_arn
  environment              = local.function_environment
  http_environment         = local.http_environment
  permissions_boundary_arn = var.permissions_boundary_arn
}

module "sign_up_function" {
  source                   = "./modules/functions"
  name                     = local.name
  functions                = { (local.sign_up_function) = local.functions[local.sign_up_function] }
  zip_dir                  = var.lambda_zip_dir
  release                  = var.release
  log_retention            = var.log_retention_days
  kms_key_arn              = module.keys.kms_key_arn
  table_names              = module.data.table_names
  secrets                  = local.secrets
  ses_identity_arn         = module.delivery.ses_identity_arn
  ses_config_set_arn       = module.delivery.configuration_set_arn
  environment              = merge(local.function_environment, { AUTHKIT_COGNITO_USER_POOL_ID = module.cognito.user_pool_id })
  http_environment         = local.http_environment
  permissions_boundary_arn = var.permissions_boundary_arn
}

module "cognito" {
  source                = "./modules/cognito"
  name                  = local.name
  existing_user_pool_id = var.existing_user_pool_id
  tier                  = var.user_pool_tier
  threat_protection     = var.threat_protection
  deletion_protection   = !local.dev
  # From module.functions alone: the sign-up function's alias depends on the pool.
  triggers = {
    define_auth_challenge = module.functions.aliases["authkit-define-auth-challenge"]
    create_auth_challenge = module.functions.aliases["authkit-create-auth-challenge"]
    verify_auth_challenge = module.functions.aliases["authkit-verify-auth-challenge"]
    pre_sign_up           = module.functions.aliases["authkit-pre-sign-up"]
  }
  pool_roles = {
    for name, fn in local.functions : name => { role = local.roles[name], actions = fn.user_pool_actions }
    if length(fn.user_pool_actions) > 0
  }
}

# The event pipeline: the events table's stream feeds the authkit-events function's live
# alias, with retries, batch splitting and a dead-letter queue. The function's role (read
# the stream, write the audit table, send to the queue) comes from modules/functions.
module "events" {
  source            = "./modules/events"
  stream_arn        = module.data.stream_arns["events"]
  function_arn      = module.functions.aliases["authkit-events"].arn
  dead_letter_queue = local.events_dead_letters
}

module "api" {
  source          = "./modules/api"
  name            = local.name
  api_id          = aws_apigatewayv2_api.this.id
  api_exec_arn    = aws_apigatewayv2_api.this.execution_arn
  routes          = local.routes
  aliases         = local.aliases
  throttle_rate   = var.api_throttle_rate
  throttle_burst  = var.api_throttle_burst
  log_retention   = var.log_retention_days
  kms_key_arn     = module.keys.kms_key_arn
  domain_name     = var.enable_waf_front ? "" : var.domain_name
  certificate_arn = var.enable_waf_front ? "" : var.certificate_arn
}

module "admin_api" {
  source             = "./modules/api"
  name               = "${local.name}-admin"
  api_id             = aws_apigatewayv2_api.admin.id
  api_exec_arn       = aws_apigatewayv2_api.admin.execution_arn
  routes             = local.admin_routes
  aliases            = local.aliases
  authorization_type = "AWS_IAM"
  throttle_rate      = 10
  throttle_burst     = 20
  log_retention      = var.log_retention_days
  kms_key_arn        = module.keys.kms_key_arn
  domain_name        = ""
  certificate_arn    = ""
}

module "front" {
  source          = "./modules/front"
  count           = var.enable_waf_front ? 1 : 0
  name            = local.name
  api_endpoint    = aws_apigatewayv2_api.this.api_endpoint
  origin_secret   = var.origin_secret
  origin_header   = "x-authkit-origin"
  waf_rate_limit  = var.waf_rate_limit
  domain_name     = var.domain_name
  certificate_arn = var.certificate_arn
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
}

module "operations" {
  source             = "./modules/operations"
  name               = local.name
  region             = var.region
  api_id             = aws_apigatewayv2_api.this.id
  function_names     = merge(module.functions.names, module.sign_up_function.names)
  outcome_log_groups = { for outcome in local.outcomes : outcome => [for name, fn in local.functions : local.log_group[name] if contains(fn.outcomes, outcome)] }
  log_groups         = values(local.log_group)
  access_log_group   = module.api.access_log_group
  table_names        = module.data.table_names
  events_queue       = module.events.dead_letter_queue_name
  sms_spend_limit    = var.sms_monthly_spend_limit
  kms_key_arn        = module.keys.kms_key_arn
  alarm_email        = var.alarm_email
}
