#!/usr/bin/env bash
# Runs inside LocalStack when it is ready: creates AuthKit's tables from the same
# definitions the code and Terraform use (crates/dynamodb/tables.json, mounted at
# /opt/authkit/tables.json), a KMS key, a verified SES sender and the key secret.
set -euo pipefail
prefix=${AUTHKIT_TABLE_PREFIX:-authkit-local-}

python3 - "$prefix" <<'PY'
import json, subprocess, sys
prefix = sys.argv[1]
for table in json.load(open("/opt/authkit/tables.json"))["tables"]:
    name = prefix + table["name"]
    stream = ["--stream-specification", f"StreamEnabled=true,StreamViewType={table['stream']}"] if table.get("stream") else []
    subprocess.run(["awslocal", "dynamodb", "create-table", "--table-name", name,
                    "--billing-mode", "PAY_PER_REQUEST",
                    "--attribute-definitions", f"AttributeName={table['partition_key']},AttributeType=S", f"AttributeName={table['sort_key']},AttributeType=S",
                    "--key-schema", f"AttributeName={table['partition_key']},KeyType=HASH", f"AttributeName={table['sort_key']},KeyType=RANGE"] + stream,
                   check=False, capture_output=True)
    subprocess.run(["awslocal", "dynamodb", "update-time-to-live", "--table-name", name,
                    "--time-to-live-specification", f"Enabled=true,AttributeName={table['ttl_attribute']}"],
                   check=False, capture_output=True)
    print(f"{table['env']}={name}")
PY

awslocal kms create-key --description "authkit local" >/dev/null
awslocal sesv2 create-email-identity --email-identity no-reply@example.com >/dev/null 2>&1 || true

# A fresh key document: a random pepper and one P-256 signing key.
pepper=$(head -c 32 /dev/urandom | base64)
key_pem=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkcs8 -topk8 -nocrypt)
document=$(python3 -c 'import json,sys; print(json.dumps({"pepper": sys.argv[1], "signing_keys": [{"kid": "local-1", "private_key_pem": sys.argv[2]}]}))' "$pepper" "$key_pem")
awslocal secretsmanager create-secret --name authkit-local/keys --secret-string "$document" >/dev/null 2>&1 || true
echo "AuthKit resources ready"
