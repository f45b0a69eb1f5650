# API Gateway HTTP API: a route per endpoint to the live alias of its function, route
# throttling, access logs, and (with a domain and no CloudFront front) a custom domain.
# The device routes check the access token in the function: the tenants, and so the
# audiences a JWT authorizer would need, are data, not configuration.

variable "name" { type = string }
variable "api_id" { type = string }
variable "api_exec_arn" { type = string }
variable "routes" {
  description = "Route key => function key."
  type        = map(string)
}
variable "aliases" {
  description = "Function key => its live alias."
  type        = map(object({ arn = string, invoke_arn = string, function_name = string, name = string }))
}
variable "throttle_rate" { type = number }
variable "throttle_burst" { type = number }
variable "log_retention" { type = number }
variable "kms_key_arn" { type = string }
variable "domain_name" {
  description = "Custom domain served by API Gateway itself; empty for none."
  type        = string
}
variable "certificate_arn" { type = string }

locals {
  http_functions = toset(values(var.routes))
}

resource "aws_apigatewayv2_integration" "this" {
  for_each               = local.http_functions
  api_id                 = var.api_id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.aliases[each.key].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Every route is authenticated in its function: the tenant's API key (hashed lookup), plus an access token on the device routes.
  for_each  = var.routes
  api_id    = var.api_id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.this[each.value].id}"
}

resource "aws_lambda_permission" "api" {
  for_each      = local.http_functions
  statement_id  = "api-gateway"
  action        = "lambda:InvokeFunction"
  function_name = var.aliases[each.key].function_name
  qualifier     = var.aliases[each.key].name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${var.api_exec_arn}/*/*"
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = var.api_id
  name        = "$default"
  auto_deploy = true

  # Route settings: each route gets this rate and burst of its own.
  default_route_settings {
    throttling_rate_limit  = var.throttle_rate
    throttling_burst_limit = var.throttle_burst
  }

  # $context.path, never the query string: magic-link tokens travel in it. The integration
  # request id is the Lambda invocation's, which joins this line to the function's logs.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId            = "$context.requestId"
      integrationRequestId = "$context.integration.requestId"
      ip                   = "$context.identity.sourceIp"
      method               = "$context.httpMethod"
      path                 = "$context.path"
      routeKey             = "$context.routeKey"
      status               = "$context.status"
      latency              = "$context.responseLatency"
      error                = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_apigatewayv2_domain_name" "this" {
  count       = var.domain_name != "" ? 1 : 0
  domain_name = var.domain_name
  domain_name_configuration {
    certificate_arn = var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count       = var.domain_name != "" ? 1 : 0
  api_id      = var.api_id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.default.id
}

output "stage_id" {
  value = aws_apigatewayv2_stage.default.id
}

output "access_log_group" {
  value = aws_cloudwatch_log_group.access.name
}

output "dns_target" {
  description = "Where domain_name's DNS record points (CNAME, or an alias record in the zone given)."
  value = var.domain_name != "" ? {
    name    = var.domain_name
    target  = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    zone_id = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
  } : null
}
