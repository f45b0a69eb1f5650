environment        = "dev"
region             = "eu-west-1"
ses_domain         = "dev.auth.example.com"
ses_from           = "no-reply@dev.auth.example.com"
log_retention_days = 30
