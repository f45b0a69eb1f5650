#!/usr/bin/env bash
# DynamoDB calls, sequential round trips and capacity units per sign-in request, measured
# by a proxy that delays every DynamoDB call (ROUND_TRIP_DELAY_MS, default 30) between a
# warm AuthKit and moto: see tests/src/round_trips.rs. Needs the venv scripts/test.sh makes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${AUTHKIT_VENV:-.venv}
[ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import moto' 2>/dev/null \
  || { echo "run scripts/test.sh once first (it makes $venv with moto)"; exit 1; }
cargo build -q -p authkit-tests --bin round-trips

work=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/python" scripts/emulator.py 127.0.0.1 "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 RUST_LOG=warn
AUTHKIT_TEST_ENDPOINT="http://127.0.0.1:$port" cargo run -q -p authkit-tests --bin round-trips
