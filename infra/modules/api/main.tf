# API Gateway HTTP API: a route per endpoint, stage throttling, access logs, a JWT
# authorizer (AuthKit's own issuer and JWKS) on the device routes, and an optional
# CloudFront + WAF front — WAF cannot attach to an HTTP API directly.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

variable "name" { type = string }
variable "api_id" { type = string }
variable "api_endpoint" { type = string }
variable "api_exec_arn" { type = string }
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
variable "invoke_arns" { type = map(string) }
variable "function_names" { type = map(string) }
variable "issuer" { type = string }
variable "jwt_audiences" {
  description = "Tenant ids whose access tokens the device routes' authorizer accepts (the `aud` claim)."
  type        = list(string)
  default     = []
}
variable "throttle_rate" { type = number }
variable "throttle_burst" { type = number }
variable "log_retention" { type = number }
variable "kms_key_arn" { type = string }
variable "enable_waf" { type = bool }
variable "waf_rate_limit" { type = number }

locals {
  http_functions = { for name, fn in var.functions : name => fn if length(fn.routes) > 0 }
  routes = merge([
    for name, fn in local.http_functions : { for route in fn.routes : route => { function = name, authorizer = fn.authorizer } }
  ]...)
}

resource "aws_apigatewayv2_integration" "this" {
  for_each               = local.http_functions
  api_id                 = var.api_id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.invoke_arns[each.key]
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count            = length(var.jwt_audiences) > 0 ? 1 : 0
  api_id           = var.api_id
  name             = "authkit-access-token"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = var.issuer
    audience = var.jwt_audiences
  }
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Sign-in routes are authenticated by the tenant's API key in the function (it is hashed and looked up per tenant); the device routes also get the JWT authorizer.
  for_each           = local.routes
  api_id             = var.api_id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value.function].id}"
  authorization_type = each.value.authorizer && length(var.jwt_audiences) > 0 ? "JWT" : "NONE"
  authorizer_id      = each.value.authorizer && length(var.jwt_audiences) > 0 ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_lambda_permission" "api" {
  for_each      = local.http_functions
  statement_id  = "api-gateway"
  action        = "lambda:InvokeFunction"
  function_name = var.function_names[each.key]
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

  default_route_settings {
    throttling_rate_limit  = var.throttle_rate
    throttling_burst_limit = var.throttle_burst
  }

  # $context.path, never the query string: magic-link tokens travel in it.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId"
      ip        = "$context.identity.sourceIp"
      method    = "$context.httpMethod"
      path      = "$context.path"
      status    = "$context.status"
      latency   = "$context.responseLatency"
      error     = "$context.integrationErrorMessage"
    })
  }
}

# Optional front: CloudFront with a WAF web ACL (AWS managed rules + a per-IP rate rule).
resource "aws_wafv2_web_acl" "front" {
  #checkov:skip=CKV2_AWS_31:WAF logging needs a Firehose or bucket named aws-waf-logs-*; enable it per account (docs/deploy.md).
  count    = var.enable_waf ? 1 : 0
  provider = aws.us_east_1
  name     = var.name
  scope    = "CLOUDFRONT"

  default_action {
    allow {}
  }

  rule {
    name     = "common"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "ip-reputation"
    priority = 3
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAmazonIpReputationList"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "ip-reputation"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-per-ip"
    priority = 4
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudfront_distribution" "front" {
  #checkov:skip=CKV_AWS_86:Access logging needs an S3 bucket per account; API Gateway access logs already record every request.
  #checkov:skip=CKV_AWS_174:The default CloudFront certificate pins TLSv1 minimum; set a custom domain with TLSv1.2_2021 in production (docs/deploy.md).
  #checkov:skip=CKV_AWS_310:An API has no second origin to fail over to.
  #checkov:skip=CKV_AWS_374:Sign-in is global; geo restriction is a tenant decision.
  #checkov:skip=CKV2_AWS_32:Security headers are set by the API itself (the link page sets CSP, frame and referrer headers).
  #checkov:skip=CKV2_AWS_42:See CKV_AWS_174: a custom certificate comes with a custom domain.
  #checkov:skip=CKV2_AWS_47:The attached web ACL includes AWSManagedRulesKnownBadInputsRuleSet (Log4j).
  count      = var.enable_waf ? 1 : 0
  enabled    = true
  comment    = "${var.name} API behind WAF"
  web_acl_id = aws_wafv2_web_acl.front[0].arn

  origin {
    domain_name = replace(var.api_endpoint, "https://", "")
    origin_id   = "api"
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id       = "api"
    viewer_protocol_policy = "https-only"
    allowed_methods        = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods         = ["GET", "HEAD"]
    # Managed policies: CachingDisabled, AllViewerExceptHostHeader.
    cache_policy_id          = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    origin_request_policy_id = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

output "url" {
  value = var.api_endpoint
}

output "cloudfront_url" {
  value = var.enable_waf ? "https://${aws_cloudfront_distribution.front[0].domain_name}" : ""
}
