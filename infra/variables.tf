variable "environment" {
  description = "dev, staging or prod; names every resource. Outside dev: deletion protection on tables and the user pool, 30-day secret recovery."
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

variable "release" {
  description = "Release label (tag or commit) written into each published Lambda version's description; scripts/rollback.sh finds versions by it."
  type        = string
  default     = ""
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary every IAM role of the stack carries; the deploy role from infra/bootstrap may only create roles that carry it. Empty: none."
  type        = string
  default     = ""
}

variable "domain_name" {
  description = "Public host name of the API (e.g. auth.example.com). Empty: the execute-api or CloudFront host name."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name: in us-east-1 when enable_waf_front (CloudFront), else in var.region (API Gateway)."
  type        = string
  default     = ""
  validation {
    condition     = (var.domain_name == "") == (var.certificate_arn == "")
    error_message = "domain_name and certificate_arn are set together."
  }
  validation {
    condition     = var.certificate_arn == "" || try(split(":", var.certificate_arn)[3] == (var.enable_waf_front ? "us-east-1" : var.region), false)
    error_message = "certificate_arn must be in us-east-1 with enable_waf_front (CloudFront), else in var.region."
  }
}

variable "issuer_url" {
  description = "Overrides the tokens' issuer and the magic-link base (a front this stack does not manage). Empty: https://<domain_name>, else the CloudFront or API Gateway URL."
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

variable "sms_origination_number" {
  description = "E.164 origination number (US toll-free or 10DLC, …) SMS are sent from; empty for none."
  type        = string
  default     = ""
}

variable "manage_sms_preferences" {
  description = "Manage the account's SNS SMS preferences (spend limit, default type) from this environment. They are one per account and region: set it in exactly one environment per account."
  type        = bool
  default     = false
}

variable "sms_monthly_spend_limit" {
  description = "SNS SMS monthly spend limit in USD, account-wide (with manage_sms_preferences). A new account's quota is $1: raise the quota first (docs/deploy.md), then this."
  type        = number
  default     = 1
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
  description = "Use this existing user pool instead of creating one: the stack grants the triggers' invoke permissions and IAM on it and adds an app client, but cannot attach the triggers (docs/cognito.md lists the manual steps)."
  type        = string
  default     = ""
}

variable "user_pool_tier" {
  description = "Cognito feature plan of the created pool: LITE, ESSENTIALS or PLUS (threat protection needs PLUS)."
  type        = string
  default     = "ESSENTIALS"
  validation {
    condition     = contains(["LITE", "ESSENTIALS", "PLUS"], var.user_pool_tier)
    error_message = "user_pool_tier must be LITE, ESSENTIALS or PLUS."
  }
}

variable "threat_protection" {
  description = "Cognito threat protection for the created pool, standard and custom (CUSTOM_AUTH) flows: OFF, AUDIT or ENFORCED. Needs user_pool_tier = PLUS."
  type        = string
  default     = "OFF"
  validation {
    condition     = contains(["OFF", "AUDIT", "ENFORCED"], var.threat_protection)
    error_message = "threat_protection must be OFF, AUDIT or ENFORCED."
  }
  validation {
    condition     = var.threat_protection == "OFF" || var.user_pool_tier == "PLUS"
    error_message = "threat_protection needs user_pool_tier = \"PLUS\" (apply fails with FeatureUnavailableInTierException otherwise)."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for function and access logs."
  type        = number
  default     = 365
}

variable "api_throttle_rate" {
  description = "Steady-state requests per second for each route (HTTP API route settings apply per route, not across the stage)."
  type        = number
  default     = 500
}

variable "api_throttle_burst" {
  description = "Burst for each route."
  type        = number
  default     = 1000
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed with a publishable key for tenants that have no list of their own (AUTHKIT_CORS_ALLOWED_ORIGINS); each tenant's own list is its setting."
  type        = list(string)
  default     = []
}

variable "enable_waf_front" {
  description = "Put CloudFront + WAF (managed rules, rate limit) in front of the API. WAF cannot attach to an HTTP API directly."
  type        = bool
  default     = false
}

variable "origin_secret" {
  description = "With enable_waf_front: the secret CloudFront sends in x-authkit-origin; the functions refuse requests without it, so the WAF cannot be bypassed through execute-api. Generate with `openssl rand -hex 32`; pass as TF_VAR_origin_secret."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = !var.enable_waf_front || length(var.origin_secret) >= 32
    error_message = "origin_secret must be at least 32 characters when enable_waf_front is true (openssl rand -hex 32)."
  }
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

variable "signup" {
  description = "Self-service sign-up (AUTHKIT_SIGNUP, decision 136): open (anyone who proves an email address creates a tenant), invite_only (only an address holding a pending invitation), off (tenants come from the operator API)."
  type        = string
  default     = "off"
  validation {
    condition     = contains(["open", "invite_only", "off"], var.signup)
    error_message = "signup must be open, invite_only or off."
  }
}
