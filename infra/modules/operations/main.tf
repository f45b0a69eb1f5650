# Dashboard, alarms to an alarm topic, metric filters over the functions' JSON logs, and
# saved Logs Insights queries. The functions log one line per outcome with a field
# `outcome` (`verified`, `wrong_code`, `exhausted`, `rate_limited`, `delivery_failed`, …);
# lambda_runtime's JSON format nests it under `fields`.

variable "name" { type = string }
variable "region" { type = string }
variable "api_id" { type = string }
variable "function_names" { type = map(string) }
variable "log_groups" { type = map(string) }
variable "table_names" { type = map(string) }
variable "events_queue" {
  description = "The events consumer's dead-letter queue."
  type        = string
}
variable "ses_config_set" { type = string }
variable "kms_key_arn" { type = string }
variable "alarm_email" { type = string }

locals {
  namespace      = "AuthKit/${var.name}"
  sign_in_groups = [for name in ["authkit-verify", "authkit-verify-auth-challenge"] : var.log_groups[name]]
  all_groups     = values(var.log_groups)
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_log_metric_filter" "outcome" {
  for_each = {
    for pair in setproduct(["wrong_code", "verified", "rate_limited", "delivery_failed"], local.sign_in_groups) : "${pair[0]}|${pair[1]}" => { outcome = pair[0], group = pair[1] }
  }
  name           = "${var.name}-${each.value.outcome}-${substr(sha1(each.value.group), 0, 8)}"
  log_group_name = each.value.group
  pattern        = "{ ($.fields.outcome = \"${each.value.outcome}\") || ($.outcome = \"${each.value.outcome}\") }"
  metric_transformation {
    name      = each.value.outcome
    namespace = local.namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = var.function_names
  alarm_name          = "${each.value}-error-rate"
  alarm_description   = "More than 5% of invocations failed."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  threshold           = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "rate"
    expression  = "100 * errors / MAX([errors, invocations])"
    label       = "error rate %"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      period      = 300
      stat        = "Sum"
      dimensions  = { FunctionName = each.value }
    }
  }
  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      period      = 300
      stat        = "Sum"
      dimensions  = { FunctionName = each.value }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "More than 2% of API responses were 5xx."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  threshold           = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "rate"
    expression  = "100 * errors / MAX([errors, requests])"
    label       = "5xx %"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      period      = 300
      stat        = "Sum"
      dimensions  = { ApiId = var.api_id }
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      period      = 300
      stat        = "Sum"
      dimensions  = { ApiId = var.api_id }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dynamodb_throttles" {
  for_each            = var.table_names
  alarm_name          = "${each.value}-throttled"
  alarm_description   = "Any throttled request on the table."
  namespace           = "AWS/DynamoDB"
  metric_name         = "ThrottledRequests"
  dimensions          = { TableName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "events_dead_letters" {
  alarm_name          = "${var.name}-events-dead-letters"
  alarm_description   = "A batch of events failed every retry: its records are still in the stream for up to 24 hours after they were written; replay them (docs/deploy.md) before they expire."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.events_queue }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "events_iterator_age" {
  alarm_name          = "${var.name}-events-lagging"
  alarm_description   = "The events consumer is more than 5 minutes behind the stream; records older than 24 hours are dropped by DynamoDB Streams."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = var.function_names["authkit-events"] }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 300000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "sms_failures" {
  alarm_name          = "${var.name}-sms-delivery-failures"
  alarm_description   = "SNS reported failed SMS deliveries."
  namespace           = "AWS/SNS"
  metric_name         = "NumberOfNotificationsFailed"
  dimensions          = { PhoneNumber = "PhoneNumberDirect" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "otp_failure_spike" {
  alarm_name          = "${var.name}-otp-failure-spike"
  alarm_description   = "Wrong answers outnumber successful sign-ins 3:1 (guessing or a broken client)."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 2
  threshold           = 75
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "rate"
    expression  = "100 * wrong / MAX([wrong + verified, 20])"
    label       = "wrong answers %"
    return_data = true
  }
  metric_query {
    id = "wrong"
    metric {
      namespace   = local.namespace
      metric_name = "wrong_code"
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id = "verified"
    metric {
      namespace   = local.namespace
      metric_name = "verified"
      period      = 300
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      { type = "metric", width = 12, height = 6, properties = { title = "API 5xx and latency p95", region = var.region, metrics = [["AWS/ApiGateway", "5xx", "ApiId", var.api_id, { stat = "Sum" }], ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p95", yAxis = "right" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Lambda errors", region = var.region, metrics = [for fn in values(var.function_names) : ["AWS/Lambda", "Errors", "FunctionName", fn, { stat = "Sum" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Lambda duration p95", region = var.region, metrics = [for fn in values(var.function_names) : ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = "p95" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "DynamoDB throttles", region = var.region, metrics = [for table in values(var.table_names) : ["AWS/DynamoDB", "ThrottledRequests", "TableName", table, { stat = "Sum" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Delivery failures", region = var.region, metrics = [["AWS/SNS", "NumberOfNotificationsFailed", "PhoneNumber", "PhoneNumberDirect", { stat = "Sum" }], ["AWS/SES", "Bounce", { stat = "Sum" }], ["AWS/SES", "Reject", { stat = "Sum" }], [local.namespace, "delivery_failed", { stat = "Sum" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Sign-in outcomes", region = var.region, metrics = [[local.namespace, "verified", { stat = "Sum" }], [local.namespace, "wrong_code", { stat = "Sum" }], [local.namespace, "rate_limited", { stat = "Sum" }]] } },
    ]
  })
}

resource "aws_cloudwatch_query_definition" "failed_sign_ins" {
  name            = "${var.name}/top-failed-sign-ins"
  log_group_names = local.sign_in_groups
  query_string    = <<-QUERY
    fields @timestamp, fields.outcome, fields.tenant
    | filter fields.outcome in ["wrong_code", "exhausted"]
    | stats count(*) as failures by fields.tenant
    | sort failures desc
    | limit 20
  QUERY
}

resource "aws_cloudwatch_query_definition" "rate_limit_hits" {
  name            = "${var.name}/rate-limit-hits"
  log_group_names = local.all_groups
  query_string    = <<-QUERY
    fields @timestamp, fields.tenant, fields.scope
    | filter fields.outcome = "rate_limited"
    | stats count(*) as hits by fields.tenant, fields.scope, bin(5m)
    | sort hits desc
  QUERY
}

output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}
