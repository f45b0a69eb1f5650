terraform {
  # 1.11: S3 backend locking without DynamoDB (use_lockfile); 1.9: validations that read
  # other variables.
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100 is the release the plan in the test suite runs against; it has the Cognito
      # user_pool_tier and threat protection for custom auth (advanced_security_additional_flows).
      version = ">= 5.100, < 6.0"
    }
  }

  # Per-environment state: `terraform init -reconfigure -backend-config=envs/<env>.s3.tfbackend
  # -backend-config=bucket=<state bucket>` (docs/deploy.md). The bucket comes from
  # infra/bootstrap.
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Application = "authkit"
      Environment = var.environment
    }
  }
}

# CloudFront-scoped WAF and CloudFront's certificate live in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = {
      Application = "authkit"
      Environment = var.environment
    }
  }
}
