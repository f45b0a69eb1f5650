#!/usr/bin/env bash
# Cold start (process start until ready for its first event), per-invocation time and peak
# RSS of every Lambda binary as deployed (`--profile deploy`, native here), against moto's
# DynamoDB, SNS and SES v2: see bench/cold_start.py. Needs the venv scripts/test.sh makes.
#   bash bench/cold_start.sh                      # every binary in lambdas/src/bin
#   bash bench/cold_start.sh authkit-health ...   # some of them
#   AUTHKIT_BENCH_BUILT=1 bash bench/cold_start.sh  # without building first
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
# AUTHKIT_BENCH_BUILT=1 measures the deploy binaries already in the target directory.
if [ -z "${AUTHKIT_BENCH_BUILT:-}" ]; then
  cargo build --profile deploy -q -p authkit-lambdas "${selected[@]}"
  cargo build -q -p authkit-local
fi
. scripts/lib.sh
target=$(cargo_target_dir)

work=$(mktemp -d)
start_emulator "$venv" "$work/emulator.log"
trap 'kill "$EMULATOR_PID" 2>/dev/null || true; rm -rf "$work"' EXIT

export AWS_ENDPOINT_URL=$EMULATOR_URL AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
export AUTHKIT_STORE=dynamodb AUTHKIT_DELIVERY=aws AUTHKIT_SES_FROM=no-reply@example.com
export AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_COGNITO_TENANT=demo RUST_LOG=warn
export AUTHKIT_COGNITO_USER_POOL_ID=us-east-1_bench  # the sign-up function needs one to start
export AUTHKIT_ISSUER=https://auth.example.com  # deployed functions must be told their issuer
for table in challenges devices counters audit directory events; do
  export "AUTHKIT_TABLE_${table^^}=bench-$table"
done
"$target/debug/authkit-local" create-tables >/dev/null
# The tenant: the local server's demo tenant, made in these tables at its first start.
AUTHKIT_DEMO_POLICY=bench/bench-policy.json AUTHKIT_OPERATOR_TOKEN_FILE="$work/operator-token" \
  "$target/debug/authkit-local" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server=$!
read_local_banner "$work/server.out" $server
kill $server; wait $server 2>/dev/null || true
key=$AUTHKIT_PUBLISHABLE_KEY
"$venv/bin/python" -c "import boto3; boto3.client('sesv2', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').create_email_identity(EmailIdentity='no-reply@example.com')"

AUTHKIT_BENCH_KEY="$key" "$venv/bin/python" bench/cold_start.py "${bins[@]/#/$target/deploy/}"
echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
