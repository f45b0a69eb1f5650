#!/usr/bin/env bash
# Cold start (process start until ready for its first event), per-invocation time and peak
# RSS of every Lambda binary as deployed (`--profile deploy`, native here), against moto's
# DynamoDB, SNS and SES v2: see bench/cold_start.py. Needs the venv scripts/test.sh makes.
#   bash bench/cold_start.sh                      # every binary in lambdas/src/bin
#   bash bench/cold_start.sh authkit-health ...   # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AUTHKIT_VENV:-.venv}
[ -x "$venv/bin/python" ] || { echo "run scripts/test.sh once first (it makes $venv with moto)"; exit 1; }
if [ $# -gt 0 ]; then
  bins=("$@")
else
  mapfile -t bins < <(find lambdas/src/bin -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
fi
selected=()
for bin in "${bins[@]}"; do selected+=(--bin "$bin"); done
cargo build --profile deploy -q -p authkit-lambdas "${selected[@]}"
cargo build -q -p authkit-local
. scripts/lib.sh
target=$(cargo_target_dir)

work=$(mktemp -d)
start_emulator "$venv" "$work/emulator.log"
trap 'kill "$EMULATOR_PID" 2>/dev/null || true; rm -rf "$work"' EXIT

export AWS_ENDPOINT_URL=$EMULATOR_URL AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
export AUTHKIT_STORE=dynamodb AUTHKIT_DELIVERY=aws AUTHKIT_SES_FROM=no-reply@example.com
export AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_COGNITO_TENANT=bench RUST_LOG=warn
export AUTHKIT_COGNITO_USER_POOL_ID=us-east-1_bench  # the sign-up function needs one to start
export AUTHKIT_ISSUER=https://auth.example.com  # deployed functions must be told their issuer
for table in challenges devices counters audit directory events; do
  export "AUTHKIT_TABLE_${table^^}=bench-$table"
done
"$target/debug/authkit-local" create-tables >/dev/null
key=$("$target/debug/authkit-local" create-tenant --id bench --name Bench --policy bench/bench-policy.json | awk '/publishable key:/ {print $3}')
"$venv/bin/python" -c "import boto3; boto3.client('sesv2', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').create_email_identity(EmailIdentity='no-reply@example.com')"

AUTHKIT_BENCH_KEY="$key" "$venv/bin/python" bench/cold_start.py "${bins[@]/#/$target/deploy/}"
echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
