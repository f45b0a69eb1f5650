#!/usr/bin/env python3
"""Starts COUNT sign-ins against a local AuthKit, reads every code from the dev outbox and
writes (challenge id, code) pairs, one per line, for bench/verify.lua. Prints the start
phase's throughput. Standard library only."""
import argparse, http.client, json, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--workers", type=int, default=16)
args = parser.parse_args()
target = urllib.parse.urlparse(args.url)


def start_batch(indexes):
    connection = http.client.HTTPConnection(target.hostname, target.port)
    started = {}
    for i in indexes:
        identifier = f"bench{i}@example.com"
        body = json.dumps({"identifier": identifier})
        connection.request("POST", "/v1/auth/start", body, {"content-type": "application/json", "x-api-key": args.key})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise SystemExit(f"start failed with {response.status}: {payload[:200]!r}")
        started[identifier] = json.loads(payload)["challenge_id"]
    return started


began = time.monotonic()
batches = [range(w, args.count, args.workers) for w in range(args.workers)]
challenges = {}
with ThreadPoolExecutor(args.workers) as pool:
    for result in pool.map(start_batch, batches):
        challenges.update(result)
elapsed = time.monotonic() - began
print(f"start phase: {args.count} sign-ins started in {elapsed:.1f} s ({args.count / elapsed:.0f}/s, {args.workers} Python clients)")

connection = http.client.HTTPConnection(target.hostname, target.port)
connection.request("GET", "/dev/outbox")
messages = json.loads(connection.getresponse().read())
codes = {}
for message in messages:
    digits = [run for run in "".join(c if c.isdigit() else " " for c in message["text"]).split() if len(run) == 6]
    if digits:
        codes[message["to"]] = digits[0]
pairs = [(challenges[i], codes[i]) for i in challenges if i in codes]
if len(pairs) < args.count:
    raise SystemExit(f"only {len(pairs)} of {args.count} codes were in the outbox; raise AUTHKIT_OUTBOX_CAPACITY")
with open(args.out, "w") as out:
    for challenge_id, code in pairs:
        out.write(f"{challenge_id} {code}\n")
print(f"wrote {len(pairs)} pairs to {args.out}")
