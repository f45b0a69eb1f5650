#!/usr/bin/env python3
"""Starts COUNT sign-ins against a local AuthKit, reads each code from the dev outbox and
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


def code_in(text):
    runs = "".join(c if c.isdigit() else " " for c in text).split()
    return next((run for run in runs if len(run) == 6), None)


def sign_in_batch(indexes):
    """Starts each sign-in and reads its code back at once, as a user would, so the server's
    outbox stays small (AUTHKIT_OUTBOX_CAPACITY) whatever COUNT is."""
    connection = http.client.HTTPConnection(target.hostname, target.port)
    pairs = []
    for i in indexes:
        identifier = f"bench{i}@example.com"
        body = json.dumps({"identifier": identifier})
        connection.request("POST", "/v1/auth/start", body, {"content-type": "application/json", "x-api-key": args.key})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise SystemExit(f"start failed with {response.status}: {payload[:200]!r}")
        challenge_id = json.loads(payload)["challenge_id"]
        connection.request("GET", "/dev/outbox?to=" + urllib.parse.quote(identifier))
        messages = json.loads(connection.getresponse().read())
        code = code_in(messages[-1]["text"]) if messages else None
        if code is None:
            raise SystemExit(f"no code in the outbox for {identifier}; raise AUTHKIT_OUTBOX_CAPACITY")
        pairs.append((challenge_id, code))
    return pairs


began = time.monotonic()
batches = [range(w, args.count, args.workers) for w in range(args.workers)]
pairs = []
with ThreadPoolExecutor(args.workers) as pool:
    for result in pool.map(sign_in_batch, batches):
        pairs.extend(result)
elapsed = time.monotonic() - began
print(f"start phase: {args.count} sign-ins started and codes read in {elapsed:.1f} s ({args.count / elapsed:.0f}/s, {args.workers} Python clients)")
with open(args.out, "w") as out:
    for challenge_id, code in pairs:
        out.write(f"{challenge_id} {code}\n")
print(f"wrote {len(pairs)} pairs to {args.out}")
