#!/usr/bin/env python3
"""Roll an AuthKit environment back in one command by moving every function's `live`
alias (what API Gateway and Cognito invoke) to an earlier published version.

    scripts/rollback.py prod --list          # what is live, and the releases kept
    scripts/rollback.py prod v1.4.2          # every function to its version of release v1.4.2
    scripts/rollback.py prod --previous      # every function to the release before the live one
    scripts/rollback.py prod v1.4.2 --dry-run

Every `terraform apply` publishes a version per function whose description is
"<function> <release>" (the stack's `release` variable; CI sets the tag or commit). The
script checks every function first and changes nothing unless all of them have the
target, so an environment never runs two releases at once. The next apply moves `live`
to the version it publishes: fix forward, or apply the previous release's code.

Needs boto3 (`pip install boto3`) and credentials allowed lambda:ListFunctions,
ListVersionsByFunction, GetAlias and UpdateAlias on authkit-<env>-*. AWS_ENDPOINT_URL is
honoured (the tests run it against moto)."""
import argparse
import sys

import boto3

ALIAS = "live"


def functions(client, environment):
    prefix = f"authkit-{environment}-"
    names = []
    for page in client.get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"] if f["FunctionName"].startswith(prefix)]
    return sorted(names)


def versions(client, name):
    """Published versions, newest first: (number, release)."""
    found = []
    for page in client.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        for version in page["Versions"]:
            if version["Version"] != "$LATEST":
                description = version.get("Description", "")
                release = description.split(" ", 1)[1] if " " in description else ""
                found.append((int(version["Version"]), release))
    return sorted(found, reverse=True)


def live_version(client, name):
    return int(client.get_alias(FunctionName=name, Name=ALIAS)["FunctionVersion"])


def target(published, live, release, previous):
    """The version to move to, or None."""
    if release is not None:
        return next((number for number, label in published if label == release), None)
    live_release = dict(published).get(live, "")
    older = [(n, label) for n, label in published if n < live]
    if previous and live_release:
        return next((n for n, label in older if label != live_release), None)
    return older[0][0] if older else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("environment")
    parser.add_argument("release", nargs="?", help="release label to roll back to")
    parser.add_argument("--previous", action="store_true", help="the release before the live one")
    parser.add_argument("--list", action="store_true", help="show what is live and what can be rolled back to")
    parser.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    args = parser.parse_args()
    if not args.list and (args.release is None) == (not args.previous):
        parser.error("give a release, or --previous, or --list")

    client = boto3.client("lambda")
    names = functions(client, args.environment)
    if not names:
        sys.exit(f"no functions named authkit-{args.environment}-* in this account and region")

    plan, missing = [], []
    for name in names:
        published = versions(client, name)
        live = live_version(client, name)
        if args.list:
            releases = ", ".join(f"{n}:{label or '-'}" for n, label in published[:5])
            print(f"{name:<45} live {live} ({dict(published).get(live) or '-'})   kept: {releases}")
            continue
        version = target(published, live, args.release, args.previous)
        if version is None:
            missing.append(name)
        else:
            plan.append((name, live, version))
    if args.list:
        return
    if missing:
        sys.exit("nothing changed: no version to roll back to for " + ", ".join(missing))

    for name, live, version in plan:
        moving = "stays" if live == version else "moves"
        print(f"{name:<45} {moving} {live} -> {version}")
        if live != version and not args.dry_run:
            client.update_alias(FunctionName=name, Name=ALIAS, FunctionVersion=str(version))
    print("dry run: nothing changed" if args.dry_run else f"{args.environment}: rolled back")


if __name__ == "__main__":
    main()
