#!/usr/bin/env bash
# AuthKit checked from outside, by clients that know nothing about it, against the local
# server (debug build, embedded store, dev outbox) on a free port:
#   - check_tokens.py: PyJWT reads the tokens through the discovery document and JWKS;
#   - schemathesis: fuzzes every operation from docs' OpenAPI document (served at
#     /openapi.json) and fails on any 5xx, or a status, content type, header or body the
#     document does not describe. Its "schema-valid request rejected" check is left out:
#     an identifier or a credential can match the schema's shape and still be refused.
# Used by scripts/test.sh; alone it needs `cargo build -p authkit-local` first. The clients
# live in their own venv (.venv-clients): schemathesis's pytest pins clash with checkov's.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${AUTHKIT_CLIENTS_VENV:-.venv-clients}
if ! "$venv/bin/python" -c 'import jwt, schemathesis' 2>/dev/null; then
  echo "installing PyJWT and schemathesis into $venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/external/requirements.txt
fi

work=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
env -u AWS_ENDPOINT_URL AUTHKIT_STORE=embedded AUTHKIT_DELIVERY=outbox AUTHKIT_ISSUER="$url" \
  AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_OUTBOX_QUIET=1 AUTHKIT_DEMO_POLICY=bench/bench-policy.json \
  target/debug/authkit-local --listen "127.0.0.1:$port" >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  grep -q "publishable key" "$work/server.out" 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$work/server.out" "$work/server.err"; exit 1; }
  sleep 0.1
done
publishable=$(awk '/publishable key:/ {print $3; exit}' "$work/server.out")
secret=$(awk '/secret key:/ {print $3; exit}' "$work/server.out")
tenant=$(sed -n 's/.*demo tenant `\([^`]*\)`.*/\1/p' "$work/server.out")

echo "-- tokens read by PyJWT"
"$venv/bin/python" tests/external/check_tokens.py --url "$url" --key "$publishable" --tenant "$tenant" --token-out "$work/access_token"

echo "-- the API fuzzed from its OpenAPI document (schemathesis)"
"$venv/bin/schemathesis" run "$url/openapi.json" -H "x-api-key: $secret" \
  -H "authorization: Bearer $(cat "$work/access_token")" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed 20261125 --no-color
