# The DynamoDB tables of crates/dynamodb/tables.json: on demand, TTL, point-in-time
# recovery, encrypted with the stack's customer-managed key; a stream where the definition
# names one (the events table's feeds the events consumer).

variable "name" { type = string }
variable "tables" {
  description = "The parsed tables.json entries."
  type = list(object({
    name          = string
    purpose       = string
    partition_key = string
    sort_key      = string
    ttl_attribute = string
    env           = string
    stream        = optional(string)
  }))
}
variable "kms_key_arn" { type = string }
variable "deletion_protection" { type = bool }

resource "aws_dynamodb_table" "this" {
  for_each = { for table in var.tables : table.name => table }

  name                        = "${var.name}-${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.partition_key
  range_key                   = each.value.sort_key
  deletion_protection_enabled = var.deletion_protection
  stream_enabled              = each.value.stream != null
  stream_view_type            = each.value.stream

  attribute {
    name = each.value.partition_key
    type = "S"
  }

  attribute {
    name = each.value.sort_key
    type = "S"
  }

  ttl {
    attribute_name = each.value.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  # DynamoDB tag values allow letters, digits, spaces and _ . : / = + - @ only (256 at
  # most); tables.json's prose has commas and brackets, which would fail CreateTable.
  tags = {
    Purpose = substr(trimspace(replace(each.value.purpose, "/\\s*[^\\p{L}\\p{Z}\\p{N}_.:/=+@-]+\\s*/", " ")), 0, 256)
  }
}

output "table_names" {
  value = { for name, table in aws_dynamodb_table.this : name => table.name }
}

output "table_arns" {
  value = { for name, table in aws_dynamodb_table.this : name => table.arn }
}

output "stream_arns" {
  value = { for name, table in aws_dynamodb_table.this : name => table.stream_arn if table.stream_enabled }
}
