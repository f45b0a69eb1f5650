# Applied once per AWS account, by a person with administrator rights, before anything
# else (docs/deploy.md, step 2): what the pipelines need to deploy AuthKit without
# long-lived AWS keys.
#
# - an S3 bucket for the stack's Terraform state (one key per environment, S3 locking);
# - GitHub's OIDC identity provider;
# - per environment, a deploy role that only the repository's GitHub environment of that
#   name can assume, and a read-only plan role for pull requests;
# - per environment, a permissions boundary: the deploy role may create IAM roles only
#   when they carry it, so the roles it creates can never do more than the functions need
#   (the stack sets permissions_boundary_arn from the outputs).
#
# Its own state is small and holds no secret: keep it local, or move it into the bucket
# after the first apply (docs/deploy.md).

terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0"
    }
  }
}

variable "region" {
  description = "Region of the state bucket and of the stack."
  type        = string
  default     = "eu-west-1"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows deploy AuthKit."
  type        = string
}

variable "environments" {
  description = "Environments the repository deploys; each is a GitHub environment of the same name."
  type        = list(string)
  default     = ["dev", "staging", "prod"]
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Application = "authkit"
      Purpose     = "deployment"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  account      = data.aws_caller_identity.current.account_id
  github       = "token.actions.githubusercontent.com"
  oidc_arn     = "arn:aws:iam::${local.account}:oidc-provider/${local.github}"
  state_bucket = "authkit-tfstate-${local.account}-${var.region}"
}

resource "aws_kms_key" "state" {
  description             = "AuthKit Terraform state"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.state_key.json
}

data "aws_iam_policy_document" "state_key" {
  #checkov:skip=CKV_AWS_111:In a key policy "*" means this key only; the account administers its key, as AWS's default key policy grants.
  #checkov:skip=CKV_AWS_356:In a key policy "*" means this key only.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (AWS's default key policy).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account}:root"]
    }
  }
}

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket; CloudTrail records state reads and writes.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-team choice; versioning keeps every state.
  #checkov:skip=CKV2_AWS_62:No one consumes state-change events.
  bucket = local.state_bucket
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 365
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_bucket.json
}

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://${local.github}"
  client_id_list = ["sts.amazonaws.com"]
}

module "environment" {
  source        = "./environment"
  for_each      = toset(var.environments)
  environment   = each.key
  region        = var.region
  account       = local.account
  repository    = var.github_repository
  oidc_arn      = local.oidc_arn
  state_bucket  = aws_s3_bucket.state.arn
  state_key_arn = aws_kms_key.state.arn
  # IAM refuses a trust policy naming an identity provider that does not exist yet.
  depends_on = [aws_iam_openid_connect_provider.github]
}

output "state_bucket" {
  description = "Pass as -backend-config=bucket=… to the stack's terraform init."
  value       = aws_s3_bucket.state.bucket
}

output "deploy_role_arns" {
  description = "Set as the AWS_DEPLOY_ROLE_ARN variable of each GitHub environment."
  value       = { for env, m in module.environment : env => m.deploy_role_arn }
}

output "plan_role_arns" {
  description = "Set as the AWS_PLAN_ROLE_ARN variable of each GitHub environment."
  value       = { for env, m in module.environment : env => m.plan_role_arn }
}

output "permissions_boundary_arns" {
  description = "Set as the stack's permissions_boundary_arn (TF_VAR_permissions_boundary_arn) per environment."
  value       = { for env, m in module.environment : env => m.boundary_arn }
}
