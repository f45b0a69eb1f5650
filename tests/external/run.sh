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

. scripts/lib.sh
target=$(cargo_target_dir)
work=$(mktemp -d)
# Port 0: the system picks a free port, the server names itself by it (issuer, links) and
# its banner says which.
env -u AWS_ENDPOINT_URL -u AUTHKIT_ISSUER -u AUTHKIT_PUBLIC_BASE_URL AUTHKIT_STORE=embedded AUTHKIT_DELIVERY=outbox \
  AUTHKIT_KEY_FILE="$work/keys.json" AUTHKIT_OUTBOX_QUIET=1 AUTHKIT_DEMO_POLICY=bench/bench-policy.json \
  "$target/debug/authkit-local" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
read_local_banner "$work/server.out" $server || { cat "$work/server.err"; exit 1; }
url=$AUTHKIT_URL
publishable=$AUTHKIT_PUBLISHABLE_KEY
secret=$(awk '/secret key:/ {print $3; exit}' "$work/server.out")
tenant=$(sed -n 's/.*demo tenant `\([^`]*\)`.*/\1/p' "$work/server.out")

echo "-- tokens read by PyJWT"
"$venv/bin/python" tests/external/check_tokens.py --url "$url" --key "$publishable" --tenant "$tenant" --token-out "$work/access_token"

echo "-- the API fuzzed from its OpenAPI document (schemathesis)"
"$venv/bin/schemathesis" run "$url/openapi.json" -H "x-api-key: $secret" \
  -H "authorization: Bearer $(cat "$work/access_token")" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed 20261125 --no-color
