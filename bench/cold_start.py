#!/usr/bin/env python3
"""Cold start, per-invocation time and peak memory of AuthKit's Lambda binaries, measured
the way Lambda sees them: a minimal Runtime API on loopback, the binary started with
AWS_LAMBDA_RUNTIME_API pointing at it. Cold start = process spawn until its first
`GET /invocation/next` (Lambda's init phase: configuration, SDK clients, key material);
invocation = event handed out until the response is posted; peak RSS = the process's
VmHWM (/proc/<pid>/status) after the invocations, what Lambda reports as "Max Memory
Used". Cold start is reported as min, p50 and p90 over RUNS starts, and beside it the
CPU time the process ran during init (its threads' /proc schedstat at the first poll),
which a loaded machine does not inflate the way it inflates the wall clock, and the p50
of each cold process's first invocation (which pays what init defers, e.g. the first
AWS call's TLS setup).
Configuration comes from the environment bench/cold_start.sh sets up (moto, tables, a
tenant and its key in AUTHKIT_BENCH_KEY).

    bash bench/cold_start.sh
"""
import http.server, json, os, pathlib, statistics, subprocess, sys, threading, time

RUNS = int(os.environ.get("RUNS", "15"))
INVOCATIONS = int(os.environ.get("INVOCATIONS", "200"))
ROOT = pathlib.Path(__file__).parent.parent
COGNITO = ROOT / "crates/cognito/tests/fixtures"


def http_event(method, path, body=None):
    """AWS's API Gateway v2 sample event, pointed at one route."""
    event = json.loads((ROOT / "tests/fixtures/example-apigw-v2-request-no-authorizer.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"], event["queryStringParameters"] = "", None
    event["headers"] = {"content-type": "application/json", "x-api-key": os.environ.get("AUTHKIT_BENCH_KEY", "")}
    event["body"], event["isBase64Encoded"] = (json.dumps(body) if body is not None else None), False
    return event


def cognito_event(name):
    """AWS's sample event for a trigger, for a user with a verified email and a fresh session."""
    event = json.loads((COGNITO / f"example-cognito-event-userpools-{name}.json").read_text())
    event["request"]["userAttributes"] = {"sub": "bench-user", "cognito:user_status": "CONFIRMED",
                                          "email": "bench@example.com", "email_verified": "true"}
    event["request"]["clientMetadata"] = {}
    if "session" in event["request"]:
        event["request"]["session"] = []
    return event


class Runtime(http.server.BaseHTTPRequestHandler):
    """Serves `budget` copies of one event, then tells the function to stop polling."""
    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        now = time.perf_counter()
        if state["first_poll"] is None:
            state["first_poll"] = now
            state["init_cpu"] = cpu_seconds(state.get("pid"))
        if state["served"] >= state["budget"]:
            state["done"].set()
            time.sleep(5)  # hold the poll: the test kills the process
            return
        state["served"] += 1
        state["handed_out"] = now
        body = json.dumps(state["event"]).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{state['served']}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 5000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length", 0))
        state["last_response"] = self.rfile.read(length)
        if "/response" in self.path:
            state["latencies"].append(time.perf_counter() - state["handed_out"])
        else:
            state["errors"] += 1
        self.send_response(202)
        self.end_headers()


def run_once(binary, event, budget):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    server.state = {"event": event, "budget": budget, "served": 0, "first_poll": None, "handed_out": 0.0,
                    "latencies": [], "errors": 0, "last_response": None, "done": threading.Event()}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}", AWS_LAMBDA_FUNCTION_NAME=pathlib.Path(binary).name,
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_FORMAT="JSON", AWS_LAMBDA_LOG_LEVEL="WARN")
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.state["pid"] = process.pid
    server.state["done"].wait(60)
    peak_rss_kb = vm_hwm_kb(process.pid)
    process.kill()
    process.wait()
    server.shutdown()
    state = server.state
    if state["first_poll"] is None:
        raise SystemExit(f"{binary} never polled for an event")
    return state["first_poll"] - started, state["latencies"], state["errors"], state["last_response"], peak_rss_kb, state["init_cpu"]


def cpu_seconds(pid):
    """CPU time the process's threads have run so far (ns precision, /proc/<pid>/task/*/schedstat):
    unlike the wall clock, it does not grow while the process waits for a core on a loaded
    machine. None when it cannot be read."""
    if pid is None:
        return None
    try:
        return sum(int(pathlib.Path(task, "schedstat").read_text().split()[0])
                   for task in pathlib.Path(f"/proc/{pid}/task").iterdir()) / 1e9
    except (OSError, ValueError):
        return None


def vm_hwm_kb(pid):
    """The process's peak resident set size so far, in kB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# What each HTTP function is asked: real work where one request can do it over and over
# (start sends a code each time; health and discovery answer fully), else a request the
# function refuses after its store or key lookups (an unknown challenge, a bad token).
HTTP_EVENTS = {
    "authkit-health": ("GET", "/ready", None),
    "authkit-discovery": ("GET", "/.well-known/jwks.json", None),
    "authkit-start": ("POST", "/v1/auth/start", {"identifier": "bench@example.com"}),
    "authkit-verify": ("POST", "/v1/auth/verify", {"challenge_id": "ch_" + "0" * 32, "code": "000000"}),
    "authkit-resend": ("POST", "/v1/auth/resend", {"challenge_id": "ch_" + "0" * 32}),
    "authkit-token": ("POST", "/v1/token/refresh", {"refresh_token": "rt_bench"}),
    "authkit-devices": ("GET", "/v1/devices", None),
    "authkit-cognito-sign-up": ("POST", "/v1/cognito/users", {"identifier": "bench@example.com"}),
    # The bench's key is publishable: these answer after the key lookup (secret key required,
    # or no IAM caller for the operator API).
    "authkit-users": ("GET", "/v1/users", None),
    "authkit-tenant-api": ("GET", "/v1/tenant", None),
    "authkit-admin": ("GET", "/admin/v1/tenants", None),
}


def event_for(binary):
    name = pathlib.Path(binary).name
    if name in HTTP_EVENTS:
        return http_event(*HTTP_EVENTS[name])
    if name == "authkit-define-auth-challenge":
        return cognito_event("define-auth-challenge")
    if name == "authkit-pre-sign-up":
        event = json.loads((COGNITO / "example-cognito-event-userpools-presignup.json").read_text())
        event["request"]["userAttributes"] = {"email": "bench@example.com"}
        event["triggerSource"] = "PreSignUp_AdminCreateUser"  # how AuthKit's route creates users
        return event
    if name == "authkit-create-auth-challenge":
        return cognito_event("create-auth-challenge")
    if name == "authkit-events":
        return stream_batch()
    if name == "authkit-verify-auth-challenge":
        # Answers a real challenge (made by one CreateAuthChallenge round) with a wrong code:
        # each invocation is one atomic conditional update in DynamoDB.
        create = pathlib.Path(binary).parent / "authkit-create-auth-challenge"
        created = json.loads(run_once(str(create), cognito_event("create-auth-challenge"), 1)[3])
        event = cognito_event("verify-auth-challenge")
        event["request"]["privateChallengeParameters"] = created["response"]["privateChallengeParameters"]
        event["request"]["challengeAnswer"] = "000000"
        return event
    raise SystemExit(f"no event for {name}")


def stream_batch():
    """A DynamoDB Streams batch as Lambda hands it to the consumer: the events the functions
    measured before this one wrote (up to 10, as INSERT records with their new image), each
    invocation delivering them to the audit log again."""
    import boto3
    events = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    items = events.scan(TableName=os.environ["AUTHKIT_TABLE_EVENTS"], Limit=10)["Items"]
    return {"Records": [{"eventName": "INSERT", "eventSource": "aws:dynamodb",
                         "dynamodb": {"NewImage": item, "SequenceNumber": str(100 + i)}}
                        for i, item in enumerate(items)]}


def main():
    print(f"{'binary':<32} {'cold start min':>14} {'p50':>8} {'p90':>8} {'init CPU p50':>12} {'1st invoke p50':>14} {'invoke p50':>11} {'p99':>8} {'peak RSS':>9}  {'size':>7}  outcome")
    # The events consumer last: its batch is the events the other functions wrote.
    for binary in sorted(sys.argv[1:], key=lambda binary: pathlib.Path(binary).name == "authkit-events"):
        name = pathlib.Path(binary).name
        event = event_for(binary)
        runs = [run_once(binary, event, 1) for _ in range(RUNS)]
        colds = sorted(run[0] for run in runs)
        cpus = sorted(run[5] for run in runs if run[5] is not None) or [float("nan")]
        firsts = sorted(run[1][0] for run in runs if run[1]) or [float("nan")]
        _, latencies, errors, last, peak_rss_kb, _ = run_once(binary, event, INVOCATIONS)
        latencies.sort()
        p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")
        size = os.path.getsize(binary) / 1e6
        outcome = f"{errors} errors" if errors else summary(last)
        if "Records" in event:
            outcome += f" ({len(event['Records'])} records a batch)"
        print(f"{name:<32} {colds[0] * 1000:>11.1f} ms {statistics.median(colds) * 1000:>5.1f} ms {p(colds, 0.9):>5.1f} ms {statistics.median(cpus) * 1000:>9.1f} ms {statistics.median(firsts) * 1000:>11.2f} ms {p(latencies, 0.5):>8.2f} ms {p(latencies, 0.99):>5.2f} ms {peak_rss_kb / 1024:>6.1f} MB  {size:>4.1f} MB  {outcome}")


def summary(raw):
    """What the last invocation answered, to show each one did real work."""
    response = json.loads(raw)
    if "statusCode" in response:
        return f"HTTP {response['statusCode']}"
    if "batchItemFailures" in response:
        return f"{len(response['batchItemFailures'])} batch item failures"
    return json.dumps(response.get("response"), sort_keys=True)[:90]


main()
