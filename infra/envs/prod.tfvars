environment = "prod"
region      = "eu-west-1"
# The public name (and so the tokens' issuer): CloudFront serves it with a us-east-1
# certificate (docs/deploy.md, step 3). TF_VAR_origin_secret supplies the origin secret.
domain_name     = "auth.example.com"
certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
ses_domain      = "auth.example.com"
ses_from        = "no-reply@auth.example.com"
# This account's SMS spend cap is owned here; raise the SNS quota before raising it.
manage_sms_preferences  = true
sms_monthly_spend_limit = 1
user_pool_tier          = "PLUS"
threat_protection       = "AUDIT"
enable_waf_front        = true
cors_allowed_origins    = ["https://app.example.com"]
alarm_email             = "oncall@example.com"
