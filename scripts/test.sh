#!/usr/bin/env bash
# The whole test suite, on a fresh machine with Rust and Python 3: formatting, lints, unit
# and property tests, and integration tests against a real AWS API emulator.
#
# It installs moto's server into .venv, starts it on a free loopback port, runs every test
# (the integration tests create their own uniquely named tables from crates/dynamodb/
# tables.json), and stops the server on exit, also when tests fail. With
# AUTHKIT_TEST_ENDPOINT already set (e.g. http://localhost:4566 for LocalStack) the same
# tests run against that endpoint instead and no moto is started. The browser test installs
# Debian's chromium (when root) and puppeteer-core from npm itself (tests/browser/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step shows the seconds the run has taken so far (CI's budget is 30 minutes on 2 cores).
step() { printf '\n==> %s [%ds]\n' "$*" "$SECONDS"; }

python=${PYTHON:-python3}
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv"
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import moto, flask' 2>/dev/null; then
  step "installing the AWS emulator (moto) into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AUTHKIT_REQUIRE_EMULATOR=1
if [ -z "${AUTHKIT_TEST_ENDPOINT:-}" ]; then
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  step "starting moto on 127.0.0.1:$port"
  "$venv/bin/python" scripts/emulator.py 127.0.0.1 "$port" >"${TMPDIR:-/tmp}/authkit-moto-$port.log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
  export AUTHKIT_TEST_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fs "$AUTHKIT_TEST_ENDPOINT/moto-api/" >/dev/null 2>&1 && break
    kill -0 "$moto_pid" 2>/dev/null || { cat "${TMPDIR:-/tmp}/authkit-moto-$port.log"; exit 1; }
    sleep 0.2
  done
fi
echo "emulator: $AUTHKIT_TEST_ENDPOINT"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
cargo clippy -p authkit-tests --test faults --quiet -- -D warnings  # not in --all-targets: test = false

step "building the binaries the integration tests run"
# The Lambda binaries once, on their own: as they ship, without the features the local
# server adds to a workspace build (the SDK's whole credential chain, the dev outbox).
# In the workspace build they would be built with those features and then again here.
cargo build --workspace --exclude authkit-lambdas --bins --quiet
cargo build -p authkit-lambdas --bins --quiet

step "cargo test (unit, property, integration against the emulator)"
cargo test --workspace --all-features

step "checked from outside: PyJWT reads the tokens, schemathesis fuzzes the API"
bash tests/external/run.sh

step "magic links in real headless Chromium (skipped, saying why, where it cannot run)"
bash tests/browser/run.sh

if [ -f tests/infra/run.sh ]; then
  step "infrastructure checks"
  AUTHKIT_VENV="$venv" bash tests/infra/run.sh
fi

if command -v cargo-fuzz >/dev/null 2>&1; then
  step "fuzz targets still build"
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build -O >/dev/null)
fi

# Last and alone with the emulator: a short run (150 sign-ins, about a minute) of the suite
# bench/faults.sh runs long. Its figures print whether it passes or not.
step "fault injection: sign-ins through throttling, 500s, resets, lost answers and timeouts"
cargo test -p authkit-tests --test faults -- --nocapture

step "all tests passed"
