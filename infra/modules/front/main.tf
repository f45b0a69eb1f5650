# CloudFront + WAF in front of the HTTP API (WAF cannot attach to an HTTP API directly).
#
# The functions refuse any request without CloudFront's origin secret header, so calling
# the execute-api endpoint directly cannot skip the WAF, and they take the client address
# from CloudFront-Viewer-Address (AUTHKIT_CLIENT_IP_SOURCE=cloudfront): the rightmost
# X-Forwarded-For entry is a CloudFront edge here.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

variable "name" { type = string }
variable "api_endpoint" { type = string }
variable "origin_secret" {
  type      = string
  sensitive = true
}
variable "origin_header" { type = string }
variable "waf_rate_limit" { type = number }
variable "domain_name" { type = string }
variable "certificate_arn" { type = string }

locals {
  # What the API reads from a request, besides what the cache key forwards (Authorization,
  # x-api-key). tests/infra checks every header the Rust code reads is forwarded.
  forwarded_headers = [
    "accept",
    "access-control-request-headers",
    "access-control-request-method",
    "cloudfront-viewer-address",
    "content-type",
    "origin",
    "sec-fetch-site",
    "user-agent",
  ]
}

# Managed rules + a per-IP rate rule. Scope CLOUDFRONT lives in us-east-1.
resource "aws_wafv2_web_acl" "front" {
  #checkov:skip=CKV2_AWS_31:WAF logging needs a Firehose or bucket named aws-waf-logs-*; enable it per account (docs/deploy.md).
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

# CloudFront cannot put a header in the cache key while caching is disabled, and an origin
# request policy never forwards Authorization: so this policy "caches" for at most a second,
# keyed on the credentials, and the API answers token responses with no-store. Without it
# CloudFront dropped Authorization and GET /v1/devices answered 401.
resource "aws_cloudfront_cache_policy" "api" {
  name        = "${var.name}-api"
  comment     = "AuthKit API: credentials in the key, nothing cached unless the origin asks"
  min_ttl     = 0
  default_ttl = 0
  max_ttl     = 1
  parameters_in_cache_key_and_forwarded_to_origin {
    headers_config {
      header_behavior = "whitelist"
      headers {
        items = ["authorization", "x-api-key"]
      }
    }
    cookies_config {
      cookie_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "all"
    }
  }
}

# Never the viewer's Host: API Gateway answers 403 to a host that is not its own.
resource "aws_cloudfront_origin_request_policy" "api" {
  name    = "${var.name}-api"
  comment = "AuthKit API: the headers it reads, the viewer address, all cookies and query strings"
  headers_config {
    header_behavior = "whitelist"
    headers {
      items = local.forwarded_headers
    }
  }
  cookies_config {
    cookie_behavior = "all"
  }
  query_strings_config {
    query_string_behavior = "all"
  }
}

resource "aws_cloudfront_distribution" "front" {
  #checkov:skip=CKV_AWS_86:Access logging needs an S3 bucket per account; API Gateway access logs already record every request.
  #checkov:skip=CKV_AWS_174:Without a custom domain CloudFront's default certificate is used, which pins TLSv1; with one, TLSv1.2_2021.
  #checkov:skip=CKV_AWS_310:An API has no second origin to fail over to.
  #checkov:skip=CKV_AWS_305:An API has no root object to serve.
  #checkov:skip=CKV_AWS_374:Sign-in is global; geo restriction is a tenant decision.
  #checkov:skip=CKV2_AWS_32:Security headers are set by the API itself (the link page sets CSP, frame and referrer headers).
  #checkov:skip=CKV2_AWS_42:See CKV_AWS_174: a custom certificate comes with a custom domain.
  #checkov:skip=CKV2_AWS_47:The attached web ACL includes AWSManagedRulesKnownBadInputsRuleSet (Log4j).
  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  comment         = "${var.name} API behind WAF"
  web_acl_id      = aws_wafv2_web_acl.front.arn
  aliases         = var.domain_name != "" ? [var.domain_name] : []

  origin {
    domain_name = replace(var.api_endpoint, "https://", "")
    origin_id   = "api"
    custom_header {
      name  = var.origin_header
      value = var.origin_secret
    }
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id         = "api"
    viewer_protocol_policy   = "https-only"
    allowed_methods          = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods           = ["GET", "HEAD"]
    cache_policy_id          = aws_cloudfront_cache_policy.api.id
    origin_request_policy_id = aws_cloudfront_origin_request_policy.api.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.domain_name == ""
    acm_certificate_arn            = var.domain_name != "" ? var.certificate_arn : null
    ssl_support_method             = var.domain_name != "" ? "sni-only" : null
    minimum_protocol_version       = var.domain_name != "" ? "TLSv1.2_2021" : null
  }
}

output "url" {
  value = "https://${aws_cloudfront_distribution.front.domain_name}"
}

output "web_acl_name" {
  value = aws_wafv2_web_acl.front.name
}

output "dns_target" {
  description = "Where domain_name's DNS record points (CNAME, or an alias record in CloudFront's zone)."
  value = var.domain_name != "" ? {
    name    = var.domain_name
    target  = aws_cloudfront_distribution.front.domain_name
    zone_id = aws_cloudfront_distribution.front.hosted_zone_id
  } : null
}
