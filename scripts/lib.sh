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
