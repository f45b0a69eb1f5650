#!/usr/bin/env bash
# The code-only fast path (docs/deploy.md): after Terraform created the stack, upload new
# code to its functions with `cargo lambda deploy`, changing nothing Terraform owns (no
# environment, role, memory, timeout, tracing or layer flags are passed, so none of them
# is touched). Each function gets a published version described "<binary> <release>" (as
# Terraform's versions are, so scripts/rollback.py finds them) and its `live` alias moves
# to it.
#
#   scripts/deploy-code.sh --env prod [--dry-run] [--build] [function ...]
#
# Options:
#   --env NAME         the Terraform environment: functions are authkit-NAME-<function>
#   --dry-run          print the commands, run nothing
#   --build            first build every function for Lambda (arm64, --profile deploy)
#   --alias NAME       the alias to move (default: live); --no-alias for a stack without one
#   --release LABEL    the version label (default: git rev-parse --short HEAD, -dirty
#                      when the work tree has changes)
#   --region, --profile    passed to cargo lambda deploy
#   --lambda-dir DIR   where the build put <function>/bootstrap (default: <target>/lambda,
#                      the directory Terraform's lambda_zip_dir reads)
#   function ...       some binaries of lambdas/src/bin (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

env_name='' dry_run=0 build=0 alias=live release='' region='' profile='' lambda_dir=''
requested=()
while [ $# -gt 0 ]; do
  case $1 in
    --env) env_name=${2:?--env needs a name}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --build) build=1; shift ;;
    --alias) alias=${2:?--alias needs a name}; shift 2 ;;
    --no-alias) alias=; shift ;;
    --release) release=${2:?--release needs a label}; shift 2 ;;
    --region) region=${2:?--region needs a region}; shift 2 ;;
    --profile) profile=${2:?--profile needs a profile}; shift 2 ;;
    --lambda-dir) lambda_dir=${2:?--lambda-dir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) requested+=("$1"); shift ;;
  esac
done
if [[ ! $env_name =~ ^[a-z0-9][a-z0-9-]*$ ]]; then
  echo "--env is required: the environment's name (dev, staging, prod)" >&2
  exit 2
fi

# The functions are the binaries; Terraform names each authkit-<env>-<binary minus authkit->.
mapfile -t all < <(find lambdas/src/bin -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
if [ ${#requested[@]} -eq 0 ]; then
  functions=("${all[@]}")
else
  for function in "${requested[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx -- "$function" ||
      { echo "no function $function in lambdas/src/bin" >&2; exit 2; }
  done
  functions=("${requested[@]}")
fi

. scripts/lib.sh
if [ -z "$release" ]; then
  release=$(git rev-parse --short HEAD 2>/dev/null || echo unversioned)
  # Code with uncommitted changes is not the commit's release.
  [ -z "$(git status --porcelain 2>/dev/null)" ] || release="$release-dirty"
fi
lambda_dir=${lambda_dir:-$(cargo_target_dir)/lambda}

run() {
  if [ "$dry_run" = 1 ]; then
    printf '%q ' "$@" | sed 's/ $//'
    echo
  else
    "$@"
  fi
}

if [ "$build" = 1 ]; then
  bins=()
  for function in "${functions[@]}"; do bins+=(--bin "$function"); done
  run cargo lambda build --profile deploy --arm64 -p authkit-lambdas --lambda-dir "$lambda_dir" "${bins[@]}"
fi

for function in "${functions[@]}"; do
  binary="$lambda_dir/$function/bootstrap"
  if [ "$dry_run" = 0 ]; then
    [ -f "$binary" ] || { echo "$binary is missing: build first (--build)" >&2; exit 1; }
    # The stack's functions run on arm64 (ELF machine 0xb7); x86 code would not start.
    [ "$(od -An -tx2 -j18 -N2 "$binary" | tr -d ' ')" = 00b7 ] ||
      { echo "$binary is not an arm64 binary: build with --arm64" >&2; exit 1; }
  fi
  command=(cargo lambda deploy --binary-name "$function" --lambda-dir "$lambda_dir"
    --description "$function $release")
  [ -n "$alias" ] && command+=(--alias "$alias")
  [ -n "$region" ] && command+=(--region "$region")
  [ -n "$profile" ] && command+=(--profile "$profile")
  command+=("authkit-$env_name-${function#authkit-}")
  run "${command[@]}"
done
