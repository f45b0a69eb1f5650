#!/usr/bin/env python3
"""Offline checks of infra/ that need no provider download:

- every binary under lambdas/src/bin has a function in infra/main.tf, and every function a binary;
- the tables Terraform creates are the ones in crates/dynamodb/tables.json (it reads that file,
  so this checks it still does) and every table variable a function gets names one of them;
- every AUTHKIT_* variable a function's environment sets is one the Rust configuration reads
  (docs/configuration.md), and every secret it names is a secret the stack defines;
- the sign-up function gets the user pool's id (and no other value wins in the merge);
- a table with a stream in tables.json gets one, and the events stream reaches the events
  function with partial-batch retries, batch splitting, a dead-letter queue and alarms.

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


def function_tables(function):
    """A function's table list: literal, or an expression over local.sign_in_tables."""
    tables = function.get("tables") or []
    if isinstance(tables, list):
        return set(tables)
    names = set(re.findall(r"['\"](\w+)['\"]", tables))
    if "local.sign_in_tables" in tables:
        names |= set(locals_block["sign_in_tables"])
    return names

binaries = {path.stem for path in (ROOT / "lambdas/src/bin").glob("*.rs")}
check("every Lambda binary has a function", binaries <= set(functions), sorted(binaries - set(functions)))
check("every function has a Lambda binary", set(functions) <= binaries, sorted(set(functions) - binaries))

tables = json.loads((ROOT / "crates/dynamodb/tables.json").read_text())["tables"]
table_names = {t["name"] for t in tables}
table_vars = {t["env"] for t in tables}
check("Terraform reads the table definitions from tables.json", "crates/dynamodb/tables.json" in (INFRA / "main.tf").read_text())
data_tf = (INFRA / "modules/data/main.tf").read_text()
for attribute in ["partition_key", "sort_key", "ttl_attribute"]:
    check(f"the data module takes {attribute} from the definitions", f"each.value.{attribute}" in data_tf)
used_tables = {t for fn in functions.values() for t in function_tables(fn)}
check("functions only use defined tables", used_tables <= table_names, sorted(used_tables - table_names))

module_calls = {unquote(name): {k: value(v) for k, v in body.items()} for block in root.get("module", []) for name, body in block.items()}
config_doc = (ROOT / "docs/configuration.md").read_text()
known_vars = set(re.findall(r"`(AUTHKIT_[A-Z_]+|AWS_[A-Z_]+)`", config_doc))
for module_name in ["functions", "sign_up_function"]:
    environment = value(module_calls[module_name]["environment"])
    text = json.dumps(environment)
    if "local.function_environment" in text:
        text += json.dumps(locals_block["function_environment"])
    set_vars = set(re.findall(r"\b(AUTHKIT_[A-Z_]+|AWS_LAMBDA_[A-Z_]+)\b", text))
    set_table_vars = {v for v in set_vars if v.startswith("AUTHKIT_TABLE_")}
    check(f"{module_name}: every table variable names a defined table", set_table_vars <= table_vars, sorted(set_table_vars - table_vars))
    check(f"{module_name}: every table variable is set (from tables.json)", "table.env" in text)
    unknown = {v for v in set_vars if v not in known_vars and not v.startswith("AUTHKIT_TABLE_")}
    check(f"{module_name}: every variable is one AuthKit reads", not unknown, sorted(unknown))
    if module_name == "sign_up_function":
        pool_ids = re.findall(r"AUTHKIT_COGNITO_USER_POOL_ID\W+([\w.]+)", text)
        check("sign_up_function: its user pool id is the stack's pool (created or attached)",
              pool_ids == ["module.cognito.user_pool_id"], pool_ids)
    secrets = set(re.findall(r"module\.keys\.(\w+)", text))
    keys_outputs = {unquote(k) for block in load(INFRA / "modules/keys/main.tf").get("output", []) for k in block}
    check(f"{module_name}: every secret it names is defined by the keys module", secrets <= keys_outputs, sorted(secrets - keys_outputs))

check("the data module turns on the streams tables.json names", "stream_enabled              = each.value.stream != null" in data_tf)
streamed = [t["name"] for t in tables if t.get("stream")]
check("the events table is the one with a stream", streamed == ["events"], streamed)
events_tf = load(INFRA / "modules/events/main.tf")
mappings = [body for block in events_tf.get("resource", []) for kind, named in block.items() if kind == "aws_lambda_event_source_mapping" for body in named.values()]
check("one event source mapping feeds the events function", len(mappings) == 1, len(mappings))
if mappings:
    mapping = {k: value(v) for k, v in mappings[0].items()}
    check("the mapping splits failing batches", mapping.get("bisect_batch_on_function_error") is True)
    check("the mapping retries from the failed record", mapping.get("function_response_types") == ["ReportBatchItemFailures"], mapping.get("function_response_types"))
    check("the mapping gives up into a dead-letter queue", "on_failure" in json.dumps(mapping.get("destination_config")))
    check("the mapping retries a bounded number of times", isinstance(mapping.get("maximum_retry_attempts"), int) and mapping["maximum_retry_attempts"] > 0)
operations_tf = (INFRA / "modules/operations/main.tf").read_text()
for metric in ["ApproximateNumberOfMessagesVisible", "IteratorAge"]:
    check(f"an alarm watches the events pipeline's {metric}", f'metric_name         = "{metric}"' in operations_tf)
check("infra/main.tf wires the events module to the events function", 'module.functions.names["authkit-events"]' in (INFRA / "main.tf").read_text())

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
