#!/usr/bin/env bash
# Offline infrastructure checks: terraform fmt, checkov, the stack-vs-code checks in
# check_stack.py, `terraform plan` of every environment with the checks in check_plan.py
# (plan.sh), scripts/rollback.py against Lambda in moto, the dry run and shellcheck of the
# code-only deploy script (check_deploy_code.py), and actionlint and zizmor over
# .github/workflows. Uses the virtualenv in
# AUTHKIT_VENV (default .venv) and the emulator at AUTHKIT_TEST_ENDPOINT, or starts one.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${AUTHKIT_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import hcl2, checkov' 2>/dev/null || [ ! -x "$venv/bin/shellcheck" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/infra/requirements.txt
fi
if ! "$venv/bin/python" -c 'import moto, boto3' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
if ! [ -x "$venv/bin/actionlint" ] || ! [ -x "$venv/bin/zizmor" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/infra/requirements-workflows.txt
fi

if [ -z "${AUTHKIT_TEST_ENDPOINT:-}" ]; then
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT
  export AUTHKIT_TEST_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fs "$AUTHKIT_TEST_ENDPOINT/moto-api/" >/dev/null 2>&1 && break
    kill -0 "$moto_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.2
  done
fi

if command -v terraform >/dev/null 2>&1; then
  terraform fmt -check -recursive infra
  echo "terraform fmt: ok"
else
  echo "terraform fmt: SKIPPED (terraform is not installed)"
fi

"$venv/bin/actionlint"
echo "actionlint: ok"
"$venv/bin/zizmor" --offline --quiet .github/workflows
"$venv/bin/checkov" --directory infra --framework terraform --quiet --compact --skip-download
"$venv/bin/python" tests/infra/check_stack.py
AUTHKIT_VENV_BIN="$venv/bin" "$venv/bin/python" tests/infra/check_deploy_code.py
"$venv/bin/python" tests/infra/test_rollback.py
AUTHKIT_VENV="$venv" bash tests/infra/plan.sh
