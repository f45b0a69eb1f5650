#!/usr/bin/env bash
# Offline infrastructure checks (no provider download): terraform fmt, checkov, the
# stack-vs-code checks in check_stack.py, and the dry run and shellcheck of the code-only
# deploy script (check_deploy_code.py). Uses the virtualenv in AUTHKIT_VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${AUTHKIT_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import hcl2, checkov' 2>/dev/null || [ ! -x "$venv/bin/shellcheck" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/infra/requirements.txt
fi

if command -v terraform >/dev/null 2>&1; then
  terraform fmt -check -recursive infra
  echo "terraform fmt: ok"
else
  echo "terraform fmt: SKIPPED (terraform is not installed)"
fi

"$venv/bin/checkov" --directory infra --framework terraform --quiet --compact --skip-download
"$venv/bin/python" tests/infra/check_stack.py
AUTHKIT_VENV_BIN="$venv/bin" "$venv/bin/python" tests/infra/check_deploy_code.py
