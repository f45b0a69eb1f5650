# One Lambda function per binary under lambdas/src/bin, each with its own role allowing
# exactly the tables, secret, key and delivery services it uses.

variable "name" { type = string }
variable "functions" {
  type = map(object({
    routes     = list(string)
    memory     = number
    timeout    = number
    tables     = list(string)
    send       = bool
    cognito    = bool
    authorizer = bool
  }))
}
variable "zip_dir" { type = string }
variable "log_retention" { type = number }
variable "kms_key_arn" { type = string }
variable "table_arns" { type = map(string) }
variable "keys_secret" { type = string }
variable "ses_identity" { type = string }
variable "ses_config_set" { type = string }
variable "user_pool_arn" { type = string }
variable "environment" { type = map(string) }

resource "aws_cloudwatch_log_group" "this" {
  for_each          = var.functions
  name              = "/aws/lambda/${var.name}-${trimprefix(each.key, "authkit-")}"
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
  for_each           = var.functions
  name               = "${var.name}-${trimprefix(each.key, "authkit-")}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  for_each = var.functions

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions.
  }

  statement {
    sid       = "KeyMaterial"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.keys_secret]
  }

  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = length(each.value.tables) > 0 ? [1] : []
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
      resources = [for table in each.value.tables : var.table_arns[table]]
    }
  }

  dynamic "statement" {
    for_each = each.value.send ? [1] : []
    content {
      sid       = "SendEmail"
      actions   = ["ses:SendEmail"]
      resources = [var.ses_identity, var.ses_config_set]
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

  dynamic "statement" {
    for_each = each.value.cognito ? [1] : []
    content {
      sid       = "UserPool"
      actions   = ["cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminUpdateUserAttributes"]
      resources = [var.user_pool_arn]
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
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by API Gateway stage throttling and Cognito's own limits; reserving it per function would starve bursts.
  for_each = var.functions

  function_name = "${var.name}-${trimprefix(each.key, "authkit-")}"
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

  environment {
    variables = var.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this[each.key].name
    application_log_level = "INFO"
    system_log_level      = "WARN"
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.this]
}

output "arns" {
  value = { for name, fn in aws_lambda_function.this : name => fn.arn }
}

output "invoke_arns" {
  value = { for name, fn in aws_lambda_function.this : name => fn.invoke_arn }
}

output "names" {
  value = { for name, fn in aws_lambda_function.this : name => fn.function_name }
}

output "role_names" {
  value = { for name, role in aws_iam_role.this : name => role.name }
}

output "log_groups" {
  value = { for name, group in aws_cloudwatch_log_group.this : name => group.name }
}
