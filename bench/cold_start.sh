#!/usr/bin/env bash
# Cold start (process start until ready for its first event) and per-invocation time of the
# Lambda binaries, native release build, embedded store: see bench/cold_start.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p authkit-lambdas --bins
python3 bench/cold_start.py target/release/authkit-health target/release/authkit-start target/release/authkit-define-auth-challenge
