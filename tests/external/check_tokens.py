#!/usr/bin/env python3
"""Reads AuthKit's tokens the way an app's backend would: with PyJWT, a standard JWT library
that knows nothing about AuthKit, fed only the discovery document and the JWKS it points at.

Signs a user in against a running local server (code read from the dev outbox), then checks
that the access token, and the one a refresh returns, verify with the published keys under a
pinned algorithm, the issuer and the tenant as audience, and that a tampered token does not.
Exits non-zero with the reason on the first failure."""
import argparse
import json
import urllib.parse
import urllib.request

import jwt
from jwt import PyJWKClient

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True, help="the server's base URL, also its issuer")
parser.add_argument("--key", required=True, help="a publishable API key of the tenant")
parser.add_argument("--tenant", required=True, help="the tenant id, the tokens' audience")
parser.add_argument("--token-out", help="where to write a valid access token for later checks")
args = parser.parse_args()


def call(method, path, body=None):
    request = urllib.request.Request(
        args.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": args.key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def check(condition, message):
    if not condition:
        raise SystemExit(f"FAIL: {message}")
    print(f"ok   {message}")


discovery = call("GET", "/.well-known/openid-configuration")
check(discovery["issuer"] == args.url, "the discovery document names the server as issuer")
check("ES256" in discovery["id_token_signing_alg_values_supported"], "it announces ES256")
for field in ("jwks_uri", "response_types_supported", "subject_types_supported"):
    check(field in discovery, f"it carries the required metadata field {field}")

identifier = "oidc-check@example.com"
started = call("POST", "/v1/auth/start", {"identifier": identifier})
messages = call("GET", "/dev/outbox?to=" + urllib.parse.quote(identifier))
code = next(run for run in "".join(c if c.isdigit() else " " for c in messages[-1]["text"]).split() if len(run) == 6)
signed_in = call("POST", "/v1/auth/verify", {"challenge_id": started["challenge_id"], "code": code})

keys = PyJWKClient(discovery["jwks_uri"])


def verify(token):
    signing_key = keys.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256"],
        audience=args.tenant,
        issuer=discovery["issuer"],
        options={"require": ["iss", "sub", "aud", "iat", "exp", "jti", "sid", "auth_time"]},
    )


claims = verify(signed_in["access_token"])
check(claims["sub"] == signed_in["user_id"], "PyJWT verifies the access token; sub is the user id")
check("otp" in claims["amr"] and "email" in claims["amr"], "amr says a one-time code by email")
check(claims["sid"] == signed_in["refresh_token"].split(".")[0], "sid names the session (the refresh family)")
check(claims["auth_time"] <= claims["iat"], "auth_time is when the user signed in")
check(jwt.get_unverified_header(signed_in["access_token"])["kid"] in {k.key_id for k in keys.get_signing_keys()},
      "the token's kid is one of the published keys")

refreshed = call("POST", "/v1/token/refresh", {"refresh_token": signed_in["refresh_token"]})
refreshed_claims = verify(refreshed["access_token"])
check(refreshed_claims["sub"] == claims["sub"], "a refreshed access token verifies too")
check((refreshed_claims["sid"], refreshed_claims["auth_time"]) == (claims["sid"], claims["auth_time"]),
      "a refresh keeps the session and the sign-in time")

header, payload, signature = signed_in["access_token"].split(".")
forged_claims = dict(claims, sub="usr_someone_else")
forged_payload = jwt.utils.base64url_encode(json.dumps(forged_claims).encode()).decode()
try:
    verify(".".join([header, forged_payload, signature]))
    check(False, "a token with altered claims is refused")
except jwt.InvalidSignatureError:
    check(True, "a token with altered claims is refused")
try:
    jwt.decode(signed_in["access_token"], keys.get_signing_key_from_jwt(signed_in["access_token"]).key,
               algorithms=["ES256"], audience="another-tenant", issuer=discovery["issuer"])
    check(False, "a token is refused for another tenant's audience")
except jwt.InvalidAudienceError:
    check(True, "a token is refused for another tenant's audience")
if args.token_out:
    with open(args.token_out, "w") as out:
        out.write(refreshed["access_token"])
print("standard JWT library: all checks passed")
