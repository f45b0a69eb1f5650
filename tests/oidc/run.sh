#!/usr/bin/env bash
# Starts the local server (debug build, embedded store, dev outbox) on a free port and runs
# check_tokens.py against it with PyJWT. Used by scripts/test.sh; runs alone after
# `cargo build -p authkit-local` with AUTHKIT_VENV pointing at a venv that has PyJWT.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${AUTHKIT_VENV:-.venv}/bin/python"
work=$(mktemp -d)
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
env -u AWS_ENDPOINT_URL AUTHKIT_STORE=embedded AUTHKIT_DELIVERY=outbox AUTHKIT_ISSUER="$url" \
  AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_OUTBOX_QUIET=1 \
  target/debug/authkit-local --listen "127.0.0.1:$port" >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  grep -q "publishable key" "$work/server.out" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$work/server.out" "$work/server.err"; exit 1; }
  sleep 0.1
done
key=$(awk '/publishable key:/ {print $3; exit}' "$work/server.out")
tenant=$(sed -n 's/.*demo tenant `\([^`]*\)`.*/\1/p' "$work/server.out")
"$python" tests/oidc/check_tokens.py --url "$url" --key "$key" --tenant "$tenant"
