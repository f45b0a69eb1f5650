#!/usr/bin/env bash
# Cold start (process start until ready for its first event) and per-invocation time of the
# Lambda binaries as deployed (`--profile deploy`, native x86_64 here), against moto's
# DynamoDB, SNS and SES v2: see bench/cold_start.py. Needs the venv scripts/test.sh makes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AUTHKIT_VENV:-.venv}
[ -x "$venv/bin/moto_server" ] || { echo "run scripts/test.sh once first (it makes $venv with moto)"; exit 1; }
bins=(authkit-health authkit-start authkit-define-auth-challenge authkit-create-auth-challenge authkit-verify-auth-challenge)
cargo build --profile deploy -q -p authkit-lambdas $(printf -- '--bin %s ' "${bins[@]}")
cargo build -q -p authkit-local
. scripts/lib.sh
target=$(cargo_target_dir)

work=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
export AUTHKIT_STORE=dynamodb AUTHKIT_DELIVERY=aws AUTHKIT_SES_FROM=no-reply@example.com
export AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_COGNITO_TENANT=bench RUST_LOG=warn
export AUTHKIT_ISSUER=https://auth.example.com  # deployed functions must be told their issuer
for table in challenges devices counters audit directory events; do
  export "AUTHKIT_TABLE_${table^^}=bench-$table"
done
"$target/debug/authkit-local" create-tables >/dev/null
key=$("$target/debug/authkit-local" create-tenant --id bench --name Bench --policy bench/bench-policy.json | awk '/publishable key:/ {print $3}')
"$venv/bin/python" -c "import boto3; boto3.client('sesv2', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').create_email_identity(EmailIdentity='no-reply@example.com')"

AUTHKIT_BENCH_KEY="$key" "$venv/bin/python" bench/cold_start.py "${bins[@]/#/$target/deploy/}"
echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
