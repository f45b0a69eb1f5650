#!/usr/bin/env python3
"""scripts/rollback.py against Lambda in moto (AUTHKIT_TEST_ENDPOINT): functions with
versions published per release and a `live` alias, rolled back by release and to the
previous release; a release one function lacks changes nothing."""
import io
import os
import pathlib
import subprocess
import sys
import uuid
import zipfile

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENDPOINT = os.environ["AUTHKIT_TEST_ENDPOINT"]
ENV = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ACCESS_KEY_ID": "testing",
       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}
environment = "rb" + uuid.uuid4().hex[:8]
client = boto3.client("lambda", endpoint_url=ENDPOINT, region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
iam = boto3.client("iam", endpoint_url=ENDPOINT, region_name="eu-west-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} rollback: {name}" + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def zipped(text):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", text)
    return buffer.getvalue()


def deploy(key, release, role):
    """What an apply does: new code and description, a published version, live on it."""
    name = f"authkit-{environment}-{key}"
    description = f"authkit-{key} {release}"
    try:
        client.get_function(FunctionName=name)
        client.update_function_code(FunctionName=name, ZipFile=zipped(release))
        client.update_function_configuration(FunctionName=name, Description=description)
        version = client.publish_version(FunctionName=name, Description=description)["Version"]
        client.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    except client.exceptions.ResourceNotFoundException:
        version = client.create_function(FunctionName=name, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                                         Code={"ZipFile": zipped(release)}, Description=description,
                                         Publish=True)["Version"]
        client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return version


def live(key):
    return client.get_alias(FunctionName=f"authkit-{environment}-{key}", Name="live")["FunctionVersion"]


def rollback(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts/rollback.py"), environment, *args],
                          env=ENV, capture_output=True, text=True)


role = iam.create_role(RoleName=f"{environment}-fn", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}')["Role"]["Arn"]
first = {key: deploy(key, "v1", role) for key in ["start", "verify"]}
second = {key: deploy(key, "v2", role) for key in ["start", "verify"]}
check("live is the newest release before rolling back", {k: live(k) for k in first} == second)

result = rollback("v1")
check("`rollback.py <env> v1` moves every function to its v1 version", result.returncode == 0 and {k: live(k) for k in first} == first,
      result.stdout + result.stderr)

deploy("start", "v3", role)
deploy("verify", "v3", role)
result = rollback("--previous")
check("`--previous` moves to the release before the live one", result.returncode == 0 and {k: live(k) for k in first} == second,
      result.stdout + result.stderr)

deploy("health", "v3", role)
before = {k: live(k) for k in ["start", "verify", "health"]}
result = rollback("v1")
check("a release one function lacks changes nothing", result.returncode != 0 and {k: live(k) for k in before} == before,
      result.stdout + result.stderr)

result = rollback("v3", "--dry-run")
check("--dry-run says what would move and moves nothing",
      result.returncode == 0 and "moves" in result.stdout and {k: live(k) for k in before} == before, result.stdout + result.stderr)

sys.exit(1 if failures else 0)
