output "api_url" {
  value = module.api.url
}

output "issuer" {
  value = local.issuer
}

output "jwks_url" {
  value = "${local.issuer}/.well-known/jwks.json"
}

output "user_pool_id" {
  value = module.cognito.user_pool_id
}

output "user_pool_client_id" {
  value = module.cognito.client_id
}

output "table_names" {
  value = module.data.table_names
}

output "keys_secret_arn" {
  value = module.keys.keys_secret_arn
}

output "ses_dkim_records" {
  description = "CNAME records to publish for SES DKIM."
  value       = module.delivery.dkim_records
}

output "cloudfront_url" {
  value = module.api.cloudfront_url
}
