#!/usr/bin/env bash
# Sign-in throughput against the local server (release build, embedded store, dev outbox):
# start N sign-ins and read their codes (bench/prepare.py), then drive POST /v1/auth/verify
# with wrk, every request a successful sign-in. Reports sign-ins/s, p50/p99 and peak RSS.
#   N=60000 DURATION=10s CONNECTIONS=32 bash bench/signin.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-60000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p authkit-local

. scripts/lib.sh
target=$(cargo_target_dir)
work=$(mktemp -d)
AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_DEMO_POLICY=bench/bench-policy.json \
AUTHKIT_OUTBOX_CAPACITY=1000 AUTHKIT_OUTBOX_QUIET=1 RUST_LOG=warn \
  "$target/release/authkit-local" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
read_local_banner "$work/server.out" $server
url=$AUTHKIT_URL
key=$AUTHKIT_PUBLISHABLE_KEY

echo "server RSS at start: $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
python3 bench/prepare.py --url "$url" --key "$key" --count "$N" --out "$work/pairs.txt"
echo "server RSS holding $N pending challenges: $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status)"
AUTHKIT_BENCH_PAIRS="$work/pairs.txt" AUTHKIT_BENCH_KEY="$key" AUTHKIT_BENCH_THREADS=$THREADS \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/verify.lua "$url" | tee "$work/wrk.out"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
echo "machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs)"
