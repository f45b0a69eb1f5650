# The event pipeline: the events table's stream (every domain event, written in the same
# transaction as its change) → the authkit-events function → the audit log (and later
# usage metering and webhooks). Lambda reads the stream in order per item, retries a failed
# batch from the first record the function names (ReportBatchItemFailures), splits batches
# that keep failing to isolate a bad record, and after the last retry sends the batch's
# description (shard and sequence numbers, not the records) to the dead-letter queue. The
# stream keeps records 24 hours: a dead letter must be replayed within that time
# (docs/runbooks/events-pipeline.md). The function's role is made with the others in
# modules/functions (its `streams`, `appends` and `dead_letters`).

variable "stream_arn" { type = string }
variable "function_arn" {
  description = "What the mapping invokes: the events function's live alias."
  type        = string
}
variable "dead_letter_queue" {
  description = "The dead-letter queue's name (the consumer's role may send to it by this name)."
  type        = string
}

# A dead letter holds stream positions only, never an event: SQS's own encryption is enough,
# and the consumer's role needs no KMS key to send one.
resource "aws_sqs_queue" "dead_letters" {
  name                      = var.dead_letter_queue
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days, the longest SQS keeps a message
}

resource "aws_lambda_event_source_mapping" "events" {
  event_source_arn                   = var.stream_arn
  function_name                      = var.function_arn
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

output "dead_letter_queue_name" {
  value = aws_sqs_queue.dead_letters.name
}

output "dead_letter_queue_arn" {
  value = aws_sqs_queue.dead_letters.arn
}
