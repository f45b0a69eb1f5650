#!/usr/bin/env python3
"""Offline checks of infra/ that need no provider download (tests/infra/check_plan.py checks
the planned stack itself: policies, environments, alarms):

- every binary under lambdas/src/bin has a function in infra/main.tf, and every function a binary;
- the tables Terraform creates are the ones in crates/dynamodb/tables.json (it reads that file,
  so this checks it still does), and every table variable comes from those definitions;
- every output of the keys module that main.tf names exists;
- the sign-up function gets the user pool's id (and no other value wins in the merge);
- self-service sign-up's routes are on the functions that serve them, which are told
  AUTHKIT_SIGNUP from var.signup;
- a table with a stream in tables.json gets one (the events table, whose stream feeds the
  events function: check_plan.py checks the mapping, its dead letters and alarms);
- every .tf file parses.

Prints `infra: N passed, M failed` and exits non-zero on any failure."""
import json
import pathlib
import re
import sys

import hcl2

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
results = []


def check(name, ok, detail=""):
    results.append((name, ok))
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


def load(path):
    with open(path) as handle:
        return hcl2.load(handle)


def unquote(value):
    return value.strip('"') if isinstance(value, str) else value


def value(attribute):
    """python-hcl2 wraps each attribute's value in a one-element list."""
    return attribute[0] if isinstance(attribute, list) and len(attribute) == 1 else attribute


root = load(INFRA / "main.tf")
locals_block = {}
for block in root.get("locals", []):
    locals_block.update({k: value(v) for k, v in block.items()})
functions = {unquote(k): v for k, v in locals_block["functions"].items()}


binaries = {path.stem for path in (ROOT / "lambdas/src/bin").glob("*.rs")}
check("every Lambda binary has a function", binaries <= set(functions), sorted(binaries - set(functions)))
check("every function has a Lambda binary", set(functions) <= binaries, sorted(set(functions) - binaries))

check("Terraform reads the table definitions from tables.json", "crates/dynamodb/tables.json" in (INFRA / "main.tf").read_text())
data_tf = (INFRA / "modules/data/main.tf").read_text()
for attribute in ["partition_key", "sort_key", "ttl_attribute"]:
    check(f"the data module takes {attribute} from the definitions", f"each.value.{attribute}" in data_tf)

module_calls = {unquote(name): {k: value(v) for k, v in body.items()} for block in root.get("module", []) for name, body in block.items()}
main_text = (INFRA / "main.tf").read_text()
check("every table variable is set from tables.json", "table.env => module.data.table_names[table.name]" in main_text)
environment = json.dumps(value(module_calls["sign_up_function"]["environment"]))
pool_ids = re.findall(r"AUTHKIT_COGNITO_USER_POOL_ID\W+([\w.]+)", environment)
check("sign_up_function: its user pool id is the stack's pool (created or attached)",
      pool_ids == ["module.cognito.user_pool_id"] and environment.index("local.function_environment") < environment.index("AUTHKIT_COGNITO_USER_POOL_ID"), pool_ids)
named = set(re.findall(r"module\.keys\.(\w+)", main_text))
keys_outputs = {unquote(k) for block in load(INFRA / "modules/keys/main.tf").get("output", []) for k in block}
check("every keys-module output main.tf names exists", named <= keys_outputs, sorted(named - keys_outputs))

check("the data module turns on the streams tables.json names", "stream_enabled              = each.value.stream != null" in data_tf)
tables = json.loads((ROOT / "crates/dynamodb/tables.json").read_text())["tables"]
streamed = [t["name"] for t in tables if t.get("stream")]
check("the events table is the one with a stream", streamed == ["events"], streamed)

# Sign-up's steps (decision 150): each route on the line of the function that serves it.
function_lines = {m.group(1): m.group(0) for m in re.finditer(r'^\s*"(authkit-[\w-]+)"\s*=\s*merge\(.*$', main_text, re.M)}
for route, function in {"POST /v1/signup": "authkit-start", "POST /v1/signup/verify": "authkit-verify",
                        "POST /v1/signup/tenant": "authkit-tenant-api"}.items():
    check(f"{route} is served by {function}", f'"{route}"' in function_lines.get(function, ""))
    check(f"{function} is told AUTHKIT_SIGNUP", "environment = local.signup_environment" in function_lines.get(function, ""))
check("AUTHKIT_SIGNUP comes from var.signup", "signup_environment = { AUTHKIT_SIGNUP = var.signup }" in main_text)

for tf in INFRA.rglob("*.tf"):
    try:
        load(tf)
        ok = True
    except Exception as error:  # noqa: BLE001 - any parse failure is the finding
        ok = False
        print(error)
    check(f"{tf.relative_to(ROOT)} parses", ok)

failed = sum(1 for _, ok in results if not ok)
print(f"infra: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
