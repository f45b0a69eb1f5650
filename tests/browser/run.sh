#!/usr/bin/env bash
# Magic links in real headless Chromium (tests/browser/*.test.mjs, node's test runner):
# Debian's `chromium` driven by puppeteer-core from npm (pinned in package-lock.json;
# puppeteer's own browser download is never used), against the local server's debug build.
#
# Installs what it needs: chromium with apt-get when running as root, puppeteer-core with
# `npm ci`. Skips, saying why, only where it cannot: no node/npm, or no chromium and not root.
# Used by scripts/test.sh; alone it needs `cargo build -p authkit-local` first.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() { echo "SKIPPING the browser test: $*"; exit 0; }

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
  || skip "node and npm are not installed (apt-get install nodejs npm)"

if ! command -v chromium >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    || skip "chromium is not installed and installing it needs root (apt-get install chromium)"
  echo "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM
CHROMIUM=$(command -v chromium)

if ! (cd tests/browser && npm ls --silent puppeteer-core >/dev/null 2>&1); then
  echo "installing puppeteer-core (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

# The target directory cargo really uses (CARGO_TARGET_DIR, config files), not a guess.
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | node -e 'let s = ""; process.stdin.on("data", (c) => { s += c; }).on("end", () => console.log(JSON.parse(s).target_directory))')
export AUTHKIT_LOCAL_BIN="$target_dir/debug/authkit-local"
[ -x "$AUTHKIT_LOCAL_BIN" ] || cargo build --quiet -p authkit-local

cd tests/browser
node --test --test-reporter=spec
