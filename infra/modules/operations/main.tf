# Dashboard, alarms to an alarm topic, metric filters over the functions' JSON logs, and
# saved Logs Insights queries; docs/runbooks name them (tests/infra checks every name they
# use exists). The functions log one line per outcome with a field `outcome` (`verified`,
# `wrong_code`, `exhausted`, `rate_limited`, `delivery_failed`, …), nested under `fields`
# by lambda_runtime's JSON format; each outcome is logged once, by the function it happens in.

variable "name" { type = string }
variable "region" { type = string }
variable "api_id" { type = string }
variable "function_names" { type = map(string) }
variable "outcome_log_groups" {
  description = "Outcome => the log groups of the functions that log it."
  type        = map(list(string))
}
variable "log_groups" {
  description = "Every function's log group."
  type        = list(string)
}
variable "access_log_group" { type = string }
variable "table_names" { type = map(string) }
variable "events_queue" {
  description = "The events consumer's dead-letter queue."
  type        = string
}
variable "sms_spend_limit" { type = number }
variable "kms_key_arn" { type = string }
variable "alarm_email" { type = string }

locals {
  namespace = "AuthKit/${var.name}"
  filters = merge([
    for outcome, groups in var.outcome_log_groups : {
      for group in groups : "${outcome}|${group}" => { outcome = outcome, group = group }
    }
  ]...)
  sign_in_groups = distinct(concat(var.outcome_log_groups["verified"], var.outcome_log_groups["wrong_code"]))
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

# default_value 0: every log line of the group that is not this outcome counts 0, so a
# ratio has data while only failures happen (an attack with no successes).
resource "aws_cloudwatch_log_metric_filter" "outcome" {
  for_each       = local.filters
  name           = "${var.name}-${each.value.outcome}-${substr(sha1(each.value.group), 0, 8)}"
  log_group_name = each.value.group
  pattern        = "{ ($.fields.outcome = \"${each.value.outcome}\") || ($.outcome = \"${each.value.outcome}\") }"
  metric_transformation {
    name          = each.value.outcome
    namespace     = local.namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = var.function_names
  alarm_name          = "${each.value}-error-rate"
  alarm_description   = "More than 5% of invocations failed. Runbook: docs/runbooks/troubleshoot-sign-in.md"
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
  alarm_description   = "More than 2% of API responses were 5xx. Runbook: docs/runbooks/troubleshoot-sign-in.md"
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

# DynamoDB publishes ThrottledRequests only per operation; per table it publishes read and
# write throttle events.
resource "aws_cloudwatch_metric_alarm" "dynamodb_throttles" {
  for_each            = var.table_names
  alarm_name          = "${each.value}-throttled"
  alarm_description   = "Reads or writes on the table were throttled. Runbook: docs/runbooks/dynamodb-throttling.md"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "throttles"
    expression  = "FILL(reads, 0) + FILL(writes, 0)"
    label       = "throttle events"
    return_data = true
  }
  metric_query {
    id = "reads"
    metric {
      namespace   = "AWS/DynamoDB"
      metric_name = "ReadThrottleEvents"
      period      = 60
      stat        = "Sum"
      dimensions  = { TableName = each.value }
    }
  }
  metric_query {
    id = "writes"
    metric {
      namespace   = "AWS/DynamoDB"
      metric_name = "WriteThrottleEvents"
      period      = 60
      stat        = "Sum"
      dimensions  = { TableName = each.value }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "events_dead_letters" {
  alarm_name          = "${var.name}-events-dead-letters"
  alarm_description   = "A batch of events failed every retry: its records stay in the stream for 24 hours after they were written; replay them before they expire. Runbook: docs/runbooks/events-pipeline.md"
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
  alarm_description   = "The events consumer is more than 5 minutes behind the stream; DynamoDB Streams drops records older than 24 hours. Runbook: docs/runbooks/events-pipeline.md"
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
  alarm_description   = "SNS reported failed SMS deliveries. Runbook: docs/runbooks/sms-pumping.md"
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

# The account's SMS bill so far this month, before the spend limit stops every SMS.
resource "aws_cloudwatch_metric_alarm" "sms_spend" {
  alarm_name          = "${var.name}-sms-spend"
  alarm_description   = "The account's SMS spend passed 80% of the monthly limit. Runbook: docs/runbooks/sms-pumping.md"
  namespace           = "AWS/SNS"
  metric_name         = "SMSMonthToDateSpentUSD"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.sms_spend_limit * 0.8
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "rate_limit_spike" {
  alarm_name          = "${var.name}-rate-limit-spike"
  alarm_description   = "More than 200 requests refused by rate limits in 5 minutes (SMS pumping, credential stuffing or a looping client). Runbook: docs/runbooks/sms-pumping.md"
  namespace           = local.namespace
  metric_name         = "rate_limited"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 200
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "delivery_failures" {
  alarm_name          = "${var.name}-delivery-failures"
  alarm_description   = "More than 10 codes or links could not be handed to SNS or SES in 5 minutes. Runbook: docs/runbooks/ses-bounces.md"
  namespace           = local.namespace
  metric_name         = "delivery_failed"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# SES reviews an account at 5% bounces / 0.1% complaints and may pause sending at 10% / 0.5%.
resource "aws_cloudwatch_metric_alarm" "ses_bounce_rate" {
  alarm_name          = "${var.name}-ses-bounce-rate"
  alarm_description   = "The account's SES bounce rate passed 4%. Runbook: docs/runbooks/ses-bounces.md"
  namespace           = "AWS/SES"
  metric_name         = "Reputation.BounceRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0.04
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "ses_complaint_rate" {
  alarm_name          = "${var.name}-ses-complaint-rate"
  alarm_description   = "The account's SES complaint rate passed 0.08%. Runbook: docs/runbooks/ses-bounces.md"
  namespace           = "AWS/SES"
  metric_name         = "Reputation.ComplaintRate"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0.0008
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# Wrong answers as a share of answers, once there are at least 20 in the period: with the
# filters' default 0, an attack with no successes reads 100%, not "no data".
resource "aws_cloudwatch_metric_alarm" "otp_failure_spike" {
  alarm_name          = "${var.name}-otp-failure-spike"
  alarm_description   = "Wrong answers outnumber successful sign-ins 3:1 (guessing or a broken client). Runbook: docs/runbooks/troubleshoot-sign-in.md"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 2
  threshold           = 75
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "rate"
    expression  = "IF(answers >= 20, 100 * FILL(wrong, 0) / answers, 0)"
    label       = "wrong answers %"
    return_data = true
  }
  metric_query {
    id          = "answers"
    expression  = "FILL(wrong, 0) + FILL(verified, 0)"
    label       = "answers"
    return_data = false
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

locals {
  functions = values(var.function_names)
  tables    = values(var.table_names)
  widgets = [
    { title = "API 5xx and latency p95", metrics = [["AWS/ApiGateway", "5xx", "ApiId", var.api_id, { stat = "Sum" }], ["AWS/ApiGateway", "Latency", "ApiId", var.api_id, { stat = "p95", yAxis = "right" }]] },
    { title = "API requests and 4xx", metrics = [["AWS/ApiGateway", "Count", "ApiId", var.api_id, { stat = "Sum" }], ["AWS/ApiGateway", "4xx", "ApiId", var.api_id, { stat = "Sum" }]] },
    { title = "Sign-in outcomes", metrics = [for outcome in ["verified", "wrong_code", "exhausted", "rate_limited"] : [local.namespace, outcome, { stat = "Sum" }]] },
    { title = "Delivery failures", metrics = [["AWS/SNS", "NumberOfNotificationsFailed", "PhoneNumber", "PhoneNumberDirect", { stat = "Sum" }], ["AWS/SES", "Bounce", { stat = "Sum" }], ["AWS/SES", "Reject", { stat = "Sum" }], [local.namespace, "delivery_failed", { stat = "Sum" }]] },
    { title = "SMS spend (USD, month to date)", metrics = [["AWS/SNS", "SMSMonthToDateSpentUSD", { stat = "Maximum" }]] },
    { title = "SES reputation", metrics = [["AWS/SES", "Reputation.BounceRate", { stat = "Maximum" }], ["AWS/SES", "Reputation.ComplaintRate", { stat = "Maximum", yAxis = "right" }]] },
    { title = "Lambda errors", metrics = [for fn in local.functions : ["AWS/Lambda", "Errors", "FunctionName", fn, { stat = "Sum" }]] },
    { title = "Lambda duration p95", metrics = [for fn in local.functions : ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = "p95" }]] },
    { title = "Lambda throttles and concurrency", metrics = concat([for fn in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", fn, { stat = "Sum" }]], [["AWS/Lambda", "ConcurrentExecutions", { stat = "Maximum", yAxis = "right" }]]) },
    { title = "DynamoDB throttles", metrics = concat([for table in local.tables : [["AWS/DynamoDB", "ReadThrottleEvents", "TableName", table, { stat = "Sum" }], ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", table, { stat = "Sum" }]]]...) },
    { title = "Events pipeline", metrics = [["AWS/Lambda", "IteratorAge", "FunctionName", var.function_names["authkit-events"], { stat = "Maximum" }], ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.events_queue, { stat = "Maximum", yAxis = "right" }]] },
    { title = "DynamoDB consumed capacity", metrics = concat([for table in local.tables : [["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", table, { stat = "Sum" }], ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", table, { stat = "Sum" }]]]...) },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [for widget in local.widgets : {
      type       = "metric"
      width      = 12
      height     = 6
      properties = { title = widget.title, region = var.region, metrics = widget.metrics, view = "timeSeries", stacked = false, period = 300 }
    }]
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
  log_group_names = var.outcome_log_groups["rate_limited"]
  query_string    = <<-QUERY
    fields @timestamp, fields.tenant, fields.scope
    | filter fields.outcome = "rate_limited"
    | stats count(*) as hits by fields.tenant, fields.scope, bin(5m)
    | sort hits desc
  QUERY
}

resource "aws_cloudwatch_query_definition" "delivery_failures" {
  name            = "${var.name}/delivery-failures"
  log_group_names = var.outcome_log_groups["delivery_failed"]
  query_string    = <<-QUERY
    fields @timestamp, @log, fields.channel, fields.error
    | filter fields.outcome = "delivery_failed"
    | stats count(*) as failures by fields.channel, bin(5m)
    | sort failures desc
  QUERY
}

# Every line that mentions an id: the API's request id (the x-request-id response header)
# finds the access-log line and the function's request line; the access line's
# integrationRequestId, searched next, finds every line of that invocation.
resource "aws_cloudwatch_query_definition" "trace_request" {
  name            = "${var.name}/trace-request"
  log_group_names = concat([var.access_log_group], var.log_groups)
  query_string    = <<-QUERY
    fields @timestamp, @log, @message
    | filter @message like "PUT-THE-REQUEST-ID-HERE"
    | sort @timestamp asc
    | limit 200
  QUERY
}

resource "aws_cloudwatch_query_definition" "slowest_requests" {
  name            = "${var.name}/slowest-requests"
  log_group_names = [var.access_log_group]
  query_string    = <<-QUERY
    fields @timestamp, routeKey, status, latency, requestId
    | sort latency desc
    | limit 50
  QUERY
}

output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  value = aws_cloudwatch_dashboard.this.dashboard_name
}
