#!/usr/bin/env python3
"""Cold start and per-invocation time of AuthKit's Lambda binaries, measured the way Lambda
sees them: a minimal Runtime API on loopback, the binary started with AWS_LAMBDA_RUNTIME_API
pointing at it. Cold start = process spawn until its first `GET /invocation/next` (Lambda's
init phase); invocation = event handed out until the response is posted.

    python3 bench/cold_start.py target/release/authkit-health target/release/authkit-start ...
"""
import http.server, json, os, pathlib, statistics, subprocess, sys, tempfile, threading, time

RUNS = int(os.environ.get("RUNS", "15"))
INVOCATIONS = int(os.environ.get("INVOCATIONS", "200"))
HEALTH = json.loads((pathlib.Path(__file__).parent.parent / "tests/fixtures/example-apigw-v2-request-no-authorizer.json").read_text())
HEALTH["rawPath"] = HEALTH["requestContext"]["http"]["path"] = "/health"
DEFINE = json.loads((pathlib.Path(__file__).parent.parent / "crates/cognito/tests/fixtures/example-cognito-event-userpools-define-auth-challenge.json").read_text()) if (pathlib.Path(__file__).parent.parent / "crates/cognito/tests/fixtures/example-cognito-event-userpools-define-auth-challenge.json").exists() else None


class Runtime(http.server.BaseHTTPRequestHandler):
    """Serves `budget` copies of one event, then tells the function to stop polling."""
    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        now = time.perf_counter()
        if state["first_poll"] is None:
            state["first_poll"] = now
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
        self.rfile.read(length)
        if "/response" in self.path:
            state["latencies"].append(time.perf_counter() - state["handed_out"])
        else:
            state["errors"] += 1
        self.send_response(202)
        self.end_headers()


def run_once(binary, event, budget, env):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    server.state = {"event": event, "budget": budget, "served": 0, "first_poll": None, "handed_out": 0.0, "latencies": [], "errors": 0, "done": threading.Event()}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    full_env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}", AWS_LAMBDA_FUNCTION_NAME=pathlib.Path(binary).name,
                    AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_LAMBDA_LOG_FORMAT="JSON", AWS_LAMBDA_LOG_LEVEL="WARN")
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.state["done"].wait(30)
    process.kill()
    process.wait()
    server.shutdown()
    state = server.state
    if state["first_poll"] is None:
        raise SystemExit(f"{binary} never polled for an event")
    return state["first_poll"] - started, state["latencies"], state["errors"]


def main():
    scratch = tempfile.mkdtemp()
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AUTHKIT_KEY_FILE": f"{scratch}/keys.json", "AUTHKIT_DELIVERY": "aws", "AUTHKIT_SES_FROM": "no-reply@example.com",
           "AUTHKIT_COGNITO_TENANT": "bench"}
    print(f"{'binary':<36} {'cold start p50':>14} {'p90':>8} {'invoke p50':>11} {'p99':>8}  size")
    for binary in sys.argv[1:]:
        event = DEFINE if "auth-challenge" in binary and "define" in binary else HEALTH
        if event is None:
            continue
        colds = [run_once(binary, event, 1, env)[0] for _ in range(RUNS)]
        _, latencies, errors = run_once(binary, event, INVOCATIONS, env)
        latencies.sort()
        p = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000
        size = os.path.getsize(binary) / 1e6
        note = f"  ({errors} errors)" if errors else ""
        print(f"{pathlib.Path(binary).name:<36} {statistics.median(colds) * 1000:>11.1f} ms {p(sorted(colds), 0.9):>5.1f} ms {p(latencies, 0.5):>8.2f} ms {p(latencies, 0.99):>5.2f} ms  {size:.1f} MB{note}")


main()
