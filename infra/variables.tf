variable "environment" {
  description = "dev, staging or prod; names every resource and turns on deletion protection outside dev."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "eu-west-1"
}

variable "lambda_zip_dir" {
  description = "Where `cargo lambda build --profile deploy --arm64 --output-format zip -p authkit-lambdas` wrote <name>/bootstrap.zip."
  type        = string
  default     = "../target/lambda"
}

variable "issuer_url" {
  description = "The public https URL of the API (custom domain). Empty: the API Gateway endpoint."
  type        = string
  default     = ""
}

variable "ses_domain" {
  description = "Domain AuthKit sends email from; DKIM records are outputs."
  type        = string
}

variable "ses_from" {
  description = "From address for codes and magic links, on ses_domain."
  type        = string
}

variable "sms_sender_id" {
  description = "Alphanumeric sender id where supported; empty for none."
  type        = string
  default     = ""
}

variable "sms_monthly_spend_limit" {
  description = "SNS SMS monthly spend limit in USD (the account-wide cap; the lever against SMS pumping bills)."
  type        = number
  default     = 10
}

variable "cognito_tenant" {
  description = "AuthKit tenant whose policy Cognito sign-ins use."
  type        = string
  default     = "cognito"
}

variable "cognito_max_attempts" {
  description = "Answers per Cognito sign-in before DefineAuthChallenge fails it."
  type        = number
  default     = 3
}

variable "existing_user_pool_id" {
  description = "Attach the triggers to this existing user pool instead of creating one."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for function and access logs."
  type        = number
  default     = 365
}

variable "api_throttle_rate" {
  description = "Stage-wide steady-state requests per second."
  type        = number
  default     = 500
}

variable "api_throttle_burst" {
  description = "Stage-wide burst."
  type        = number
  default     = 1000
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API with a publishable key."
  type        = list(string)
  default     = []
}

variable "enable_waf_front" {
  description = "Put CloudFront + WAF (managed rules, rate limit) in front of the API. WAF cannot attach to an HTTP API directly."
  type        = bool
  default     = false
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes per IP before the WAF rate rule blocks."
  type        = number
  default     = 1000
}

variable "alarm_email" {
  description = "Subscribed to the alarm topic; empty for none."
  type        = string
  default     = ""
}
