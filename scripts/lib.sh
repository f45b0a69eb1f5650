# shellcheck shell=bash disable=SC2034  # sets variables for the script that sources it
# Helpers the scripts share; sourced (`. scripts/lib.sh` from the repository root), not run.

# Where cargo puts this workspace's build output: CARGO_TARGET_DIR, a cargo config's
# build.target-dir, or target/. Cargo itself answers, so scripts look where it built.
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | "${PYTHON:-python3}" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# Waits until the local server started with its stdout in $1 (process id $2) has printed
# its banner, then sets AUTHKIT_URL and AUTHKIT_PUBLISHABLE_KEY from it. With
# `--listen 127.0.0.1:0` the system picks the port and the banner names it.
read_local_banner() {
  local out=$1 pid=$2
  for _ in $(seq 300); do
    grep -q "try it" "$out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "authkit-local exited:"; cat "$out"; return 1; }
    sleep 0.1
  done
  AUTHKIT_URL=$(awk '/AuthKit is running at/ {print $5; exit}' "$out")
  AUTHKIT_PUBLISHABLE_KEY=$(awk '/publishable key:/ {print $3; exit}' "$out")
  [ -n "$AUTHKIT_URL" ] || { echo "no URL in the banner:"; cat "$out"; return 1; }
}

# Starts the test emulator (scripts/emulator.py: moto, one request at a time) from the venv
# in $1 on a free loopback port, logging to $2; sets EMULATOR_URL and EMULATOR_PID and
# returns once it answers. The caller stops it (kill "$EMULATOR_PID").
start_emulator() {
  local venv=$1 log=$2 port
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$venv/bin/python" scripts/emulator.py 127.0.0.1 "$port" >"$log" 2>&1 &
  EMULATOR_PID=$!
  EMULATOR_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fs "$EMULATOR_URL/moto-api/" >/dev/null 2>&1 && return 0
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.2
  done
  echo "the emulator did not answer on $EMULATOR_URL"; return 1
}
