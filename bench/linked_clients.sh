#!/usr/bin/env bash
# Which AWS SDK clients each Lambda binary links, read from the binaries the deploy build
# left (bench/cold_start.sh or `cargo build --profile deploy -p authkit-lambdas`). The
# binaries are stripped, but code keeps the source paths of its panic and tracing locations
# (`…/aws-sdk-sesv2-1.x/src/…`), so a client whose code was linked shows up by name; one
# the linker dropped does not.
#   bash bench/linked_clients.sh [target/deploy]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/deploy}
clients=(dynamodb sns sesv2 cognitoidentityprovider secretsmanager sts sso kms)
printf '%-32s' binary; printf ' %s' "${clients[@]}"; echo
for binary in $(find "$dir" -maxdepth 1 -type f -name 'authkit-*' ! -name '*.d' | sort); do
  linked=$(strings -n 8 "$binary" | grep -o 'aws-sdk-[a-z0-9]*-[0-9]' | sort -u || true)
  printf '%-32s' "$(basename "$binary")"
  for client in "${clients[@]}"; do
    if grep -qx "aws-sdk-$client-[0-9]" <<<"$linked"; then printf " %${#client}s" yes; else printf " %${#client}s" -; fi
  done
  echo
done
