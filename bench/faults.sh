#!/usr/bin/env bash
# The fault-injection suite (tests/faults) at length: SIGN_INS sign-ins (default 2,000)
# through a proxy that throttles, fails, resets and stalls DynamoDB, SES and SNS calls
# between AuthKit and the emulator; then the faults stop and every unfinished sign-in is
# retried; then the events table's stream goes to the audit consumer while its writes are
# faulted. Prints the requests, the faults injected by kind, the outcomes and the checks
# (docs/performance.md, "Reliability"). Needs the venv scripts/test.sh makes.
#   SIGN_INS=2000 DYNAMODB_RATE=0.3 DELIVERY_RATE=0.35 PIPELINE_RATE=0.3 SEED=12 bash bench/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AUTHKIT_VENV:-.venv}
[ -x "$venv/bin/python" ] || { echo "run scripts/test.sh once first (it makes $venv with moto)"; exit 1; }
. scripts/lib.sh

work=$(mktemp -d)
start_emulator "$venv" "$work/emulator.log"
trap 'kill "$EMULATOR_PID" 2>/dev/null || true; rm -rf "$work"' EXIT

export AUTHKIT_TEST_ENDPOINT=$EMULATOR_URL AUTHKIT_REQUIRE_EMULATOR=1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AUTHKIT_FAULT_SIGN_INS=${SIGN_INS:-2000}
export AUTHKIT_FAULT_CONCURRENCY=${CONCURRENCY:-8}
export AUTHKIT_FAULT_DYNAMODB_RATE=${DYNAMODB_RATE:-0.3}
export AUTHKIT_FAULT_DELIVERY_RATE=${DELIVERY_RATE:-0.35}
export AUTHKIT_FAULT_PIPELINE_RATE=${PIPELINE_RATE:-0.3}
export AUTHKIT_FAULT_SEED=${SEED:-12}
export AUTHKIT_FAULT_DEADLINE_SECS=${DEADLINE_SECS:-1800}
if [ -n "${KINDS:-}" ]; then export AUTHKIT_FAULT_KINDS=$KINDS; fi
started=$(date +%s)
status=0
cargo test -q -p authkit-tests --test faults -- --nocapture || status=$?
echo "wall time: $(( $(date +%s) - started )) s; machine: $(nproc) cores"
exit $status
