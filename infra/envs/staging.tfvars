environment = "staging"
region      = "eu-west-1"
ses_domain  = "staging.auth.example.com"
ses_from    = "no-reply@staging.auth.example.com"
