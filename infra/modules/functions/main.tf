# One Lambda function per binary under lambdas/src/bin, each with its own role allowing
# exactly the tables, streams, queues, secrets and delivery services it uses (docs/deploy.md, "What each
# function may do"). Every apply publishes a version; API Gateway and Cognito invoke the
# `live` alias, which scripts/rollback.sh moves back in one command.

variable "name" { type = string }
variable "functions" {
  type = map(object({
    routes            = list(string)
    memory            = number
    timeout           = number
    tables            = list(string)
    ping              = bool
    streams           = list(string)
    appends           = list(string)
    reads             = list(string)
    dead_letters      = list(string)
    secrets           = list(string)
    send              = bool
    email             = bool
    user_pool_actions = list(string)
    outcomes          = list(string)
    registry          = bool
    environment       = map(string)
  }))
}
variable "zip_dir" { type = string }
variable "release" { type = string }
variable "log_retention" { type = number }
variable "kms_key_arn" { type = string }
variable "table_names" {
  description = "Table key (tables.json name) => DynamoDB table name."
  type        = map(string)
}
variable "secrets" {
  description = "Secret key (keys, pepper) => { name, env }: its name, and the variable that tells a function."
  type        = map(object({ name = string, env = string }))
}
variable "ses_identity_arn" { type = string }
variable "ses_config_set_arn" { type = string }
variable "environment" {
  description = "What every function reads."
  type        = map(string)
}
variable "http_environment" {
  description = "What the functions behind API Gateway also read."
  type        = map(string)
}
variable "permissions_boundary_arn" { type = string }

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.name
  # ARNs built from names, so every policy is known when planned (and checked there).
  table_arns = { for key, table in var.table_names : key => "arn:aws:dynamodb:${local.region}:${local.account}:table/${table}" }
  # A stream's ARN ends in the time it was enabled, known only after apply.
  stream_arns = { for key, arn in local.table_arns : key => "${arn}/stream/*" }
  # Secrets Manager appends six random characters to a secret's name in its ARN.
  secret_patterns = { for key, secret in var.secrets : key => "arn:aws:secretsmanager:${local.region}:${local.account}:secret:${secret.name}-??????" }
  log_group_names = { for fn in keys(var.functions) : fn => "/aws/lambda/${var.name}-${trimprefix(fn, "authkit-")}" }
  # Partition keys of tenant and API-key records in the directory table
  # (crates/dynamodb/src/tenants.rs): only the registry functions (operator API, tenant
  # API) may write them, and those may touch nothing else of the directory.
  operator_records = ["tenant#*", "apikey#*"]
  # What a registry function reads and writes in the directory: tenant and key records,
  # and keys' last uses (`<tenant>#keyuse`).
  registry_records = concat(local.operator_records, ["*#keyuse"])
  # The console tenant's users and sessions (members' accounts, `console#…`): the registry
  # functions read them to judge a member's token and accept invitations, never write them.
  console_records = ["console#*"]
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = var.functions
  name              = local.log_group_names[each.key]
  retention_in_days = var.log_retention
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each             = var.functions
  name                 = "${var.name}-${trimprefix(each.key, "authkit-")}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn != "" ? var.permissions_boundary_arn : null
}

data "aws_iam_policy_document" "function" {
  for_each = var.functions

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${local.region}:${local.account}:log-group:${local.log_group_names[each.key]}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions.
  }

  dynamic "statement" {
    for_each = length(each.value.secrets) > 0 ? [1] : []
    content {
      sid       = "Secrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for secret in each.value.secrets : local.secret_patterns[secret]]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.secrets) > 0 ? [1] : []
    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  # Reading or writing a table encrypted with the stack's key needs kms:Decrypt of its
  # table key, through DynamoDB only. GenerateDataKey is never needed by a caller.
  dynamic "statement" {
    for_each = length(each.value.tables) > 0 || each.value.ping || length(each.value.streams) > 0 || length(each.value.appends) > 0 || length(each.value.reads) > 0 ? [1] : []
    content {
      sid       = "DecryptTables"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }

  # TransactWriteItems is authorised per item as PutItem/UpdateItem/DeleteItem/ConditionCheckItem.
  dynamic "statement" {
    for_each = length([for table in each.value.tables : table if !(each.value.registry && table == "directory")]) > 0 ? [1] : []
    content {
      sid = "Tables"
      actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:ConditionCheckItem",
      ]
      resources = [for table in each.value.tables : local.table_arns[table] if !(each.value.registry && table == "directory")]
    }
  }

  # The registry functions (operator API, tenant API) write tenant and API-key records,
  # and nothing else of the directory: no user, device or session.
  dynamic "statement" {
    for_each = each.value.registry && contains(each.value.tables, "directory") ? [1] : []
    content {
      sid = "Registry"
      actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:ConditionCheckItem",
      ]
      resources = [local.table_arns["directory"]]
      condition {
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = local.registry_records
      }
    }
  }

  # Tenant members are the console tenant's users: reading their accounts and sessions
  # is how a member's token is judged (decision 130).
  dynamic "statement" {
    for_each = each.value.registry && contains(each.value.tables, "directory") ? [1] : []
    content {
      sid       = "ConsoleMembersRead"
      actions   = ["dynamodb:GetItem", "dynamodb:Query"]
      resources = [local.table_arns["directory"]]
      condition {
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = local.console_records
      }
    }
  }

  # Every other function may not write tenants and API keys: a compromised sign-in
  # function cannot mint keys or change a tenant.
  dynamic "statement" {
    for_each = contains(each.value.tables, "directory") && !each.value.registry ? [1] : []
    content {
      sid       = "NoTenantOrApiKeyWrites"
      effect    = "Deny"
      actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
      resources = [local.table_arns["directory"]]
      condition {
        test     = "ForAnyValue:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = local.operator_records
      }
    }
  }

  # A table's change stream, as Lambda's event source mapping reads it with the function's
  # role (ListStreams has no resource-level permissions).
  dynamic "statement" {
    for_each = length(each.value.streams) > 0 ? [1] : []
    content {
      sid       = "ReadStreams"
      actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
      resources = [for table in each.value.streams : local.stream_arns[table]]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.streams) > 0 ? [1] : []
    content {
      sid       = "ListStreams"
      actions   = ["dynamodb:ListStreams"]
      resources = ["*"]
    }
  }

  # Put only: an append-only writer (the audit log's) reads and updates nothing.
  dynamic "statement" {
    for_each = length(each.value.appends) > 0 ? [1] : []
    content {
      sid       = "AppendOnly"
      actions   = ["dynamodb:PutItem", "dynamodb:BatchWriteItem"]
      resources = [for table in each.value.appends : local.table_arns[table]]
    }
  }

  # Query only: a reader of the audit log (the tenant's audit API, the consumer finding an
  # erased user's entries) lists entries and changes none through this statement.
  dynamic "statement" {
    for_each = length(each.value.reads) > 0 ? [1] : []
    content {
      sid       = "QueryOnly"
      actions   = ["dynamodb:Query"]
      resources = [for table in each.value.reads : local.table_arns[table]]
    }
  }

  # The event source mapping sends a batch that failed every retry here, as the function.
  dynamic "statement" {
    for_each = length(each.value.dead_letters) > 0 ? [1] : []
    content {
      sid       = "DeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [for queue in each.value.dead_letters : "arn:aws:sqs:${local.region}:${local.account}:${queue}"]
    }
  }

  # Readiness reads one fixed item of the audit table (crates/dynamodb/src/audit.rs `ping`).
  dynamic "statement" {
    for_each = each.value.ping ? [1] : []
    content {
      sid       = "Readiness"
      actions   = ["dynamodb:GetItem"]
      resources = [local.table_arns["audit"]]
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "dynamodb:LeadingKeys"
        values   = ["ping"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.value.send || each.value.email ? [1] : []
    content {
      sid       = "SendEmail"
      actions   = ["ses:SendEmail"]
      resources = [var.ses_identity_arn, var.ses_config_set_arn]
    }
  }

  dynamic "statement" {
    for_each = each.value.send ? [1] : []
    content {
      sid     = "SendSms"
      actions = ["sns:Publish"]
      # Publishing to a phone number has no resource ARN; deny topics so only SMS is possible.
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.send ? [1] : []
    content {
      sid       = "NoTopics"
      effect    = "Deny"
      actions   = ["sns:Publish"]
      resources = ["arn:aws:sns:*:*:*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = var.functions
  name     = "authkit"
  role     = aws_iam_role.this[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions call only AWS APIs; a VPC would add NAT cost and cold-start time for no isolation gain.
  #checkov:skip=CKV_AWS_116:API and Cognito invocations are synchronous; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile outside this stack; the zip comes from the team's own CI.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by API Gateway route throttling and Cognito's own limits; reserving it per function would starve bursts.
  for_each = var.functions

  function_name = "${var.name}-${trimprefix(each.key, "authkit-")}"
  description   = var.release != "" ? "${each.key} ${var.release}" : each.key
  role          = aws_iam_role.this[each.key].arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  filename      = "${var.zip_dir}/${each.key}/bootstrap.zip"
  # Missing zips only fail at apply, so `terraform validate` works before a build.
  source_code_hash = fileexists("${var.zip_dir}/${each.key}/bootstrap.zip") ? filebase64sha256("${var.zip_dir}/${each.key}/bootstrap.zip") : null
  memory_size      = each.value.memory
  timeout          = each.value.timeout
  kms_key_arn      = var.kms_key_arn
  # Every change of code or configuration becomes a numbered version: what `live` points at.
  publish = true

  environment {
    variables = merge(
      var.environment,
      { for secret in each.value.secrets : var.secrets[secret].env => var.secrets[secret].name },
      length(each.value.routes) > 0 ? var.http_environment : {},
      each.value.environment,
    )
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this[each.key].name
    application_log_level = "INFO"
    # INFO keeps the platform's START/REPORT lines (duration, init duration, memory).
    system_log_level = "INFO"
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.this]
}

# What API Gateway and Cognito invoke. Rolling back moves the alias to an earlier version
# (scripts/rollback.sh); the next apply moves it to the version that apply publishes.
resource "aws_lambda_alias" "live" {
  for_each         = var.functions
  name             = "live"
  function_name    = aws_lambda_function.this[each.key].function_name
  function_version = aws_lambda_function.this[each.key].version
}

output "aliases" {
  description = "Function key => the live alias: arn, invoke_arn, function_name, name."
  value = { for name, alias in aws_lambda_alias.live : name => {
    arn           = alias.arn
    invoke_arn    = alias.invoke_arn
    function_name = aws_lambda_function.this[name].function_name
    name          = alias.name
  } }
}

output "names" {
  value = { for name, fn in aws_lambda_function.this : name => fn.function_name }
}

output "roles" {
  value = { for name, role in aws_iam_role.this : name => role.name }
}

output "log_groups" {
  value = { for name, group in aws_cloudwatch_log_group.this : name => group.name }
}
