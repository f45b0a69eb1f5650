# The event pipeline: the events table's stream (every domain event, written in the same
# transaction as its change) → the authkit-events function → the audit log (and later
# usage metering and webhooks). Lambda reads the stream in order per item, retries a failed
# batch from the first record the function names (ReportBatchItemFailures), splits batches
# that keep failing to isolate a bad record, and after the last retry sends the batch's
# description (shard and sequence numbers, not the records) to the dead-letter queue. The
# stream keeps records 24 hours: a dead letter must be replayed within that time.

variable "name" { type = string }
variable "stream_arn" { type = string }
variable "function_name" { type = string }
variable "role_name" { type = string }
variable "audit_table_arn" { type = string }
variable "kms_key_arn" { type = string }

resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-events-dead-letters"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600 # 14 days, the longest SQS keeps a message
}

resource "aws_lambda_event_source_mapping" "events" {
  event_source_arn                   = var.stream_arn
  function_name                      = var.function_name
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 1
  # Batches of one shard stay in order; more in parallel would reorder a refusal count's
  # updates, which the audit log tolerates but webhooks would not.
  parallelization_factor         = 1
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400
  function_response_types        = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dead_letters.arn
    }
  }
}

data "aws_iam_policy_document" "consumer" {
  statement {
    sid       = "ReadStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"] # ListStreams has no resource-level permissions.
  }

  statement {
    sid       = "WriteAudit"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [var.audit_table_arn]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }
}

resource "aws_iam_role_policy" "consumer" {
  name   = "events-stream"
  role   = var.role_name
  policy = data.aws_iam_policy_document.consumer.json
}

output "dead_letter_queue_name" {
  value = aws_sqs_queue.dead_letters.name
}

output "dead_letter_queue_arn" {
  value = aws_sqs_queue.dead_letters.arn
}
