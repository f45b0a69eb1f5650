environment             = "dev"
region                  = "eu-west-1"
ses_domain              = "dev.auth.example.com"
ses_from                = "no-reply@dev.auth.example.com"
sms_monthly_spend_limit = 5
log_retention_days      = 365
