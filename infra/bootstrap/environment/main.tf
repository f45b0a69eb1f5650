# One environment's deploy role, plan role and permissions boundary.

variable "environment" { type = string }
variable "region" { type = string }
variable "account" { type = string }
variable "repository" { type = string }
variable "oidc_arn" { type = string }
variable "state_bucket" {
  description = "ARN of the state bucket."
  type        = string
}
variable "state_key_arn" { type = string }

locals {
  name       = "authkit-${var.environment}"
  arn        = "${var.region}:${var.account}"
  state_keys = ["${var.state_bucket}/authkit/${var.environment}.tfstate", "${var.state_bucket}/authkit/${var.environment}.tfstate.tflock"]
  boundary   = "arn:aws:iam::${var.account}:policy/${local.name}-boundary"
  github     = "token.actions.githubusercontent.com"
}

# The most any role of the stack may ever do, whatever policy it is given: what the
# functions need (infra/modules/functions), on this environment's resources.
data "aws_iam_policy_document" "boundary" {
  #checkov:skip=CKV_AWS_111:sns:Publish to a phone number has no resource ARN; topics are denied below.
  #checkov:skip=CKV_AWS_356:"*" only where AWS has no resource ARN: SMS to a phone number, X-Ray, dynamodb:ListStreams.
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${local.arn}:log-group:/aws/lambda/${local.name}-*:*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "Tables"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem"]
    resources = ["arn:aws:dynamodb:${local.arn}:table/${local.name}-*"]
  }
  statement {
    sid       = "ReadStreams"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = ["arn:aws:dynamodb:${local.arn}:table/${local.name}-*/stream/*"]
  }
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = ["arn:aws:sqs:${local.arn}:${local.name}-*"]
  }
  statement {
    sid       = "NoTenantOrApiKeyWrites"
    effect    = "Deny"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
    resources = ["arn:aws:dynamodb:${local.arn}:table/${local.name}-directory"]
    condition {
      test     = "ForAnyValue:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["tenant#*", "apikey#*"]
    }
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:${local.arn}:secret:${local.name}/*"]
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt"]
    resources = ["arn:aws:kms:${local.arn}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com", "secretsmanager.${var.region}.amazonaws.com"]
    }
  }
  statement {
    sid       = "SendEmail"
    actions   = ["ses:SendEmail"]
    resources = ["arn:aws:ses:${local.arn}:identity/*", "arn:aws:ses:${local.arn}:configuration-set/${local.name}"]
  }
  statement {
    sid       = "SendSms"
    actions   = ["sns:Publish"]
    resources = ["*"]
  }
  statement {
    sid       = "NoTopics"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = ["arn:aws:sns:*:*:*"]
  }
  statement {
    sid       = "UserPool"
    actions   = ["cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminUpdateUserAttributes"]
    resources = ["arn:aws:cognito-idp:${local.arn}:userpool/*"]
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "${local.name}-boundary"
  description = "Permissions boundary of every role the AuthKit ${var.environment} stack creates."
  policy      = data.aws_iam_policy_document.boundary.json
}

data "aws_iam_policy_document" "trust" {
  #checkov:skip=CKV_AWS_358:The subject is exactly repo:<owner/name>:environment:<env> (or :pull_request for the read-only plan role), and the audience is sts.amazonaws.com; checkov cannot read values built from variables.
  for_each = {
    deploy = "repo:${var.repository}:environment:${var.environment}"
    plan   = "repo:${var.repository}:pull_request"
  }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github}:sub"
      values   = [each.value]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${local.name}-deploy"
  description          = "Applies the AuthKit ${var.environment} stack from the ${var.environment} GitHub environment."
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy"].json
  max_session_duration = 3600
}

resource "aws_iam_role" "plan" {
  name                 = "${local.name}-plan"
  description          = "Plans the AuthKit ${var.environment} stack for pull requests (read only)."
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = 3600
}

# What `terraform apply` of infra/ does, on this environment's resources. Resource types
# whose ARNs carry no name we choose (API Gateway, CloudFront, Cognito pools, KMS keys)
# are limited by service or by the Environment tag the stack puts on everything.
data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_111:Write actions are limited to this environment's resource names where the service has them; CloudFront, API Gateway and Cognito create resources with generated ids.
  #checkov:skip=CKV_AWS_356:"*" only for actions with no resource-level permissions (Create*, account-level SNS SMS settings, query definitions).
  #checkov:skip=CKV_AWS_109:Role and policy management is limited to authkit-<env>-* roles that carry the permissions boundary.
  #checkov:skip=CKV_AWS_110:iam:PassRole only for authkit-<env>-* roles, only to Lambda; CreateRole only with the boundary.
  #checkov:skip=CKV_AWS_107:No credentials are exposed: the deploy role cannot read secret values.
  #checkov:skip=CKV_AWS_108:Data reads are limited to Terraform state and this environment's resources' descriptions.
  statement {
    sid       = "State"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = local.state_keys
  }
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.state_bucket]
  }
  statement {
    sid       = "StateKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.state_key_arn]
  }
  statement {
    sid       = "Identity"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }
  statement {
    sid       = "CreateRolesWithTheBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = ["arn:aws:iam::${var.account}:role/${local.name}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary]
    }
  }
  statement {
    sid = "ManageRoles"
    actions = ["iam:GetRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
    "iam:ListInstanceProfilesForRole"]
    resources = ["arn:aws:iam::${var.account}:role/${local.name}-*"]
  }
  statement {
    sid       = "PassRolesToLambda"
    actions   = ["iam:PassRole"]
    resources = ["arn:aws:iam::${var.account}:role/${local.name}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }
  statement {
    sid       = "KeepTheBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"]
    resources = ["*"]
  }
  statement {
    sid       = "NotItself"
    effect    = "Deny"
    actions   = ["iam:*"]
    resources = [aws_iam_role.deploy.arn, aws_iam_role.plan.arn, local.boundary]
  }
  statement {
    sid       = "NeverReadSecretValues"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
    resources = ["*"]
  }
  statement {
    sid = "Named"
    actions = ["dynamodb:*", "lambda:*", "logs:*", "secretsmanager:*", "sns:*", "ses:*", "cloudwatch:*",
    "wafv2:*", "sqs:*"]
    resources = [
      "arn:aws:dynamodb:${local.arn}:table/${local.name}-*",
      "arn:aws:lambda:${local.arn}:function:${local.name}-*",
      "arn:aws:sqs:${local.arn}:${local.name}-*",
      "arn:aws:logs:${local.arn}:log-group:/aws/lambda/${local.name}-*",
      "arn:aws:logs:${local.arn}:log-group:/aws/apigateway/${local.name}",
      "arn:aws:logs:${local.arn}:log-group:/aws/lambda/${local.name}-*:*",
      "arn:aws:logs:${local.arn}:log-group:/aws/apigateway/${local.name}:*",
      "arn:aws:secretsmanager:${local.arn}:secret:${local.name}/*",
      "arn:aws:sns:${local.arn}:${local.name}-*",
      "arn:aws:ses:${local.arn}:identity/*",
      "arn:aws:ses:${local.arn}:configuration-set/${local.name}",
      "arn:aws:cloudwatch:${local.arn}:alarm:${local.name}-*",
      "arn:aws:cloudwatch::${var.account}:dashboard/${local.name}",
      "arn:aws:wafv2:us-east-1:${var.account}:global/*",
    ]
  }
  # Event source mappings get generated ids; one is created only for this stack's functions.
  statement {
    sid       = "CreateEventSourceMappings"
    actions   = ["lambda:CreateEventSourceMapping"]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["arn:aws:lambda:${local.arn}:function:${local.name}-*"]
    }
  }
  statement {
    sid       = "EventSourceMappings"
    actions   = ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource"]
    resources = ["arn:aws:lambda:${local.arn}:event-source-mapping:*"]
  }
  statement {
    sid       = "GeneratedIds"
    actions   = ["apigateway:*", "cloudfront:*", "cognito-idp:*"]
    resources = ["*"]
  }
  statement {
    sid       = "TaggedKeys"
    actions   = ["kms:*"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }
  }
  statement {
    sid       = "CreateTaggedKeys"
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [var.environment]
    }
  }
  statement {
    sid       = "KeyAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["arn:aws:kms:${local.arn}:alias/${local.name}"]
  }
  statement {
    sid = "Unnamed"
    actions = ["logs:DescribeLogGroups", "logs:PutQueryDefinition", "logs:DescribeQueryDefinitions", "logs:DeleteQueryDefinition",
      "sns:SetSMSAttributes", "sns:GetSMSAttributes", "ses:CreateEmailIdentity", "ses:CreateConfigurationSet",
      "cloudwatch:DescribeAlarms", "lambda:ListVersionsByFunction", "lambda:GetAccountSettings", "lambda:ListEventSourceMappings",
      "acm:DescribeCertificate", "acm:ListTagsForCertificate", "kms:ListAliases", "secretsmanager:ListSecrets",
      # API Gateway access logs are a log delivery, made with the caller's rights.
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

# Pull requests plan with read-only access to descriptions: no data-plane reads (items,
# secret values), and state only (which holds the origin secret: keep PR plans to branches
# of this repository; GitHub gives forks no OIDC token).
data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "State"
    actions   = ["s3:GetObject", "s3:ListBucket", "kms:Decrypt"]
    resources = concat(local.state_keys, [var.state_bucket, var.state_key_arn])
  }
  statement {
    sid       = "NoData"
    effect    = "Deny"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:GetRecords", "sqs:ReceiveMessage", "secretsmanager:GetSecretValue", "lambda:InvokeFunction"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

output "deploy_role_arn" {
  value = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  value = aws_iam_role.plan.arn
}

output "boundary_arn" {
  value = aws_iam_policy.boundary.arn
}
