output "public_url" {
  description = "Where clients call the API (the custom domain once its DNS record exists)."
  value       = local.public_url
}

output "issuer" {
  value = local.issuer
}

output "jwks_url" {
  value = "${local.issuer}/.well-known/jwks.json"
}

output "execute_api_url" {
  description = "API Gateway's own endpoint: switched off with a custom domain and no front; behind CloudFront it answers only requests carrying the origin secret."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "cloudfront_url" {
  value = var.enable_waf_front ? module.front[0].url : ""
}

output "dns_record" {
  description = "The DNS record to create for domain_name: a CNAME to target, or an alias record (target, zone_id)."
  value       = var.domain_name == "" ? null : var.enable_waf_front ? module.front[0].dns_target : module.api.dns_target
}

output "user_pool_id" {
  value = module.cognito.user_pool_id
}

output "user_pool_client_id" {
  value = module.cognito.client_id
}

output "cognito_trigger_arns" {
  description = "The live aliases to set as the user pool's triggers (by hand on an existing pool: docs/cognito.md)."
  value = {
    define_auth_challenge          = local.aliases["authkit-define-auth-challenge"].arn
    create_auth_challenge          = local.aliases["authkit-create-auth-challenge"].arn
    verify_auth_challenge_response = local.aliases["authkit-verify-auth-challenge"].arn
    pre_sign_up                    = local.aliases["authkit-pre-sign-up"].arn
  }
}

output "function_names" {
  description = "Function key => Lambda function name (scripts/rollback.sh moves their live aliases)."
  value       = merge(module.functions.names, module.sign_up_function.names)
}

output "table_names" {
  value = module.data.table_names
}

output "keys_secret_arn" {
  value = module.keys.keys_secret_arn
}

output "pepper_secret_arn" {
  value = module.keys.pepper_secret_arn
}

output "ses_dkim_records" {
  description = "CNAME records to publish for SES DKIM."
  value       = module.delivery.dkim_records
}

output "email_feedback_topic_arn" {
  description = "SES bounces and complaints are published here; nothing subscribes yet (docs/runbooks/ses-bounces.md)."
  value       = module.delivery.feedback_topic_arn
}

output "dashboard_url" {
  value = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${module.operations.dashboard_name}"
}

output "alarm_topic_arn" {
  value = module.operations.alarm_topic_arn
}
