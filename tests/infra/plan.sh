#!/usr/bin/env bash
# `terraform plan` of infra/ for every infra/envs/*.tfvars (plus two variants, and
# infra/bootstrap), offline, then check_plan.py over the plans.
#
# No provider is downloaded: it comes from a local plugin directory (AUTHKIT_TF_PLUGIN_DIR,
# default /opt/tf-plugins; in GitHub Actions the workflow fills one with `terraform
# providers mirror`). The provider gets test credentials and sends its few calls (STS
# GetCallerIdentity) to the moto server at AUTHKIT_TEST_ENDPOINT (started by scripts/test.sh
# or tests/infra/run.sh). Everything happens in a temporary copy with a
# *_override.tf that is never written into infra/. Lambda zips are placeholders built here.
#
# Without terraform or the plugin directory it skips with a message, except with CI=true
# (no package registry ships terraform, so a skip in CI would hide every check).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${AUTHKIT_VENV:-.venv}
plugin_dir=${AUTHKIT_TF_PLUGIN_DIR:-/opt/tf-plugins}

missing=""
command -v terraform >/dev/null 2>&1 || missing="terraform is not installed"
[ -n "$missing" ] || [ -d "$plugin_dir/registry.terraform.io/hashicorp/aws" ] ||
  missing="no AWS provider under $plugin_dir (set AUTHKIT_TF_PLUGIN_DIR)"
if [ -n "$missing" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "terraform plan: FAILED: $missing, and CI=true does not allow skipping" >&2
    exit 1
  fi
  echo "terraform plan: SKIPPED ($missing)"
  exit 0
fi

endpoint=${AUTHKIT_TEST_ENDPOINT:?run through tests/infra/run.sh or scripts/test.sh, which start moto}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The layout infra/ expects (../crates/dynamodb/tables.json), and placeholder zips.
mkdir -p "$work/crates/dynamodb" "$work/plans"
cp -R infra "$work/infra"
find "$work/infra" \( -name .terraform -o -name ".terraform.lock.hcl" -o -name "*.tfstate*" -o -name "*_override.tf" \) -prune -exec rm -rf {} +
cp crates/dynamodb/tables.json "$work/crates/dynamodb/"
"$venv/bin/python" - "$work/zips" lambdas/src/bin <<'PY'
import pathlib, sys, zipfile
out, bins = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for binary in bins.glob("*.rs"):
    (out / binary.stem).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out / binary.stem / "bootstrap.zip", "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n# placeholder for terraform plan\n")
PY

provider_block() { # $1: extra lines
  cat <<EOF
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sts = "$endpoint"
  }
$1
EOF
}
write_override() { # $1: directory, $2: also override the us_east_1 alias
  {
    echo 'terraform {'
    echo '  backend "local" {}'
    echo '}'
    echo 'provider "aws" {'
    provider_block ""
    echo '}'
    if [ "$2" = yes ]; then
      echo 'provider "aws" {'
      provider_block '  alias = "us_east_1"'
      echo '}'
    fi
  } >"$1/plan_check_override.tf"
}

write_override "$work/infra" yes
# The API's id exists only after apply; with a stand-in the dashboard and API alarms are
# known in the plan, so their metrics can be checked.
cat >>"$work/infra/plan_check_override.tf" <<'EOF'
module "operations" {
  api_id = "plan-check-api"
}
EOF
[ ! -d "$work/infra/bootstrap" ] || write_override "$work/infra/bootstrap" no

export TF_CLI_CONFIG_FILE="$work/terraform.rc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
: >"$TF_CLI_CONFIG_FILE"
export TF_VAR_origin_secret=plan-check-origin-secret-0123456789abcdef
export TF_VAR_permissions_boundary_arn=arn:aws:iam::123456789012:policy/authkit-plan-check-boundary
export TF_VAR_lambda_zip_dir="$work/zips"

plan() { # $1: directory, $2: label, rest: terraform plan arguments
  local dir=$1 label=$2
  shift 2
  if ! terraform -chdir="$dir" plan -input=false -lock=false -no-color -out="$work/plans/$label.tfplan" "$@" >"$work/plans/$label.log" 2>&1; then
    cat "$work/plans/$label.log" >&2
    echo "terraform plan ($label): FAILED" >&2
    exit 1
  fi
  terraform -chdir="$dir" show -json "$work/plans/$label.tfplan" >"$work/plans/$label.json"
  echo "terraform plan ($label): ok"
}

for dir in "$work/infra" "$work/infra/bootstrap"; do
  [ -d "$dir" ] || continue
  terraform -chdir="$dir" init -input=false -no-color -plugin-dir="$plugin_dir" >"$work/init.log" 2>&1 ||
    { cat "$work/init.log" >&2; exit 1; }
done
# Without a domain the issuer is API Gateway's host name, known only after apply, and one
# unknown value hides a function's whole environment from the plan: a stand-in issuer
# keeps the environments checkable.
stand_in_issuer=-var=issuer_url=https://issuer.plan-check.example
for vars in infra/envs/*.tfvars; do
  env=$(basename "$vars" .tfvars)
  if grep -Eq '^[[:space:]]*domain_name[[:space:]]*=' "$vars"; then
    plan "$work/infra" "$env" -var-file="envs/$env.tfvars"
  else
    plan "$work/infra" "$env" -var-file="envs/$env.tfvars" "$stand_in_issuer"
  fi
done
# Variants no environment file uses: dev on an existing user pool, with invite-only
# sign-up; staging on its own domain without the CloudFront front (API Gateway serves it).
plan "$work/infra" dev-existing-pool -var-file=envs/dev.tfvars "$stand_in_issuer" -var=existing_user_pool_id=eu-west-1_PlanCheck \
  -var=signup=invite_only
plan "$work/infra" staging-custom-domain -var-file=envs/staging.tfvars -var=domain_name=auth-staging.example.com \
  -var=certificate_arn=arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000
if [ -d "$work/infra/bootstrap" ]; then
  plan "$work/infra/bootstrap" bootstrap -var-file=example.tfvars
fi

"$venv/bin/python" tests/infra/check_plan.py "$work/plans"
