"""Cold start of the release binary as a Lambda function, in both modes.

    python3 scripts/bench-lambda.py [target/release/atrium] [--moto URL]

A stand-in for Lambda's runtime API on loopback hands each fresh process
one event, the way Lambda does after a cold start, and times
  init:  process start -> the function asks for its first event
         (config read, SDK clients and state built);
  first: process start -> the answer to that first event is posted.
Modes: HTTP (a function URL GET /healthz, then a GET /blog/posts that reads
the table) and events (a DynamoDB Streams batch of one record that needs no
action). With --moto the table is DynamoDB on that moto server (the table
must exist: the script runs `atrium migrate`), as on AWS; otherwise the
embedded store. Prints the median and the slowest of ROUNDS runs.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUNDS = int(os.environ.get("ROUNDS", "15"))

HTTP_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/blog/posts",
    "rawQueryString": "",
    "headers": {"host": "bench.lambda-url.eu-west-1.on.aws"},
    "requestContext": {
        "accountId": "anonymous",
        "apiId": "bench",
        "domainName": "bench.lambda-url.eu-west-1.on.aws",
        "http": {"method": "GET", "path": "/blog/posts", "protocol": "HTTP/1.1",
                 "sourceIp": "198.51.100.1", "userAgent": "bench"},
        "requestId": "bench",
        "routeKey": "$default",
        "stage": "$default",
        "time": "23/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795000000000,
    },
    "isBase64Encoded": False,
}

STREAM_EVENT = {"Records": [{
    "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1",
    "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
    "dynamodb": {"Keys": {"PK": {"S": "USER#bench"}, "SK": {"S": "TODO#1"}},
                 "SequenceNumber": "1", "SizeBytes": 10,
                 "StreamViewType": "NEW_AND_OLD_IMAGES"},
    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
}]}


class RuntimeApi(BaseHTTPRequestHandler):
    """Lambda's runtime API, for one event per process."""

    event = None
    marks = {}
    answered = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        if "init" in self.marks:  # a second poll: the function is done
            self.answered.wait(10)
            time.sleep(10)
            return
        self.marks["init"] = time.perf_counter()
        body = json.dumps(self.event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:atrium")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.marks["body"] = self.rfile.read(length) if length else b""
        self.marks["first"] = time.perf_counter()
        self.marks["ok"] = self.path.endswith("/response")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.answered.set()


def cold_start(binary, env, event):
    RuntimeApi.event = event
    RuntimeApi.marks = {}
    RuntimeApi.answered = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        if not RuntimeApi.answered.wait(30):
            sys.exit("the function never answered")
    finally:
        process.kill()
        process.wait()
        server.shutdown()
        server.server_close()
    marks = RuntimeApi.marks
    if not marks.get("ok"):
        sys.exit(f"the function reported an error: {marks.get('body')!r}")
    return (marks["init"] - start) * 1000, (marks["first"] - start) * 1000


def measure(label, binary, env, event):
    runs = [cold_start(binary, env, event) for _ in range(ROUNDS)]
    init = [r[0] for r in runs]
    first = [r[1] for r in runs]
    print(f"  {label:<34} init {statistics.median(init):6.1f} ms (max {max(init):6.1f})"
          f"   first answer {statistics.median(first):6.1f} ms (max {max(first):6.1f})")


def main():
    args = sys.argv[1:]
    moto = None
    if "--moto" in args:
        moto = args[args.index("--moto") + 1]
        args = [a for a in args if a not in ("--moto", moto)]
    binary = args[0] if args else "target/release/atrium"
    data = tempfile.mkdtemp(prefix="atrium-bench-lambda-")
    base = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_FUNCTION_NAME": "atrium",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "APP_DATA_DIR": data,
        "APP_LOG_FORMAT": "json",
    }
    backend = "embedded store"
    if moto:
        backend = "DynamoDB on moto"
        base.update({
            "APP_STORE": "dynamodb", "APP_TABLE": "bench-lambda",
            "AWS_ENDPOINT_URL": moto, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        subprocess.run([binary, "migrate"], env=base, check=True, stdout=subprocess.DEVNULL)
    # The embedded store's signing key, made once (as a deployment would have it).
    subprocess.run([binary, "token", "--user", "bench"], env=base, check=True,
                   stdout=subprocess.DEVNULL)
    print(f"Lambda cold start, {binary}, {backend}, median of {ROUNDS}:")
    measure("HTTP (GET /blog/posts)", binary, dict(base, APP_LAMBDA_HANDLER="http"), HTTP_EVENT)
    measure("events (stream batch of one)", binary, dict(base, APP_LAMBDA_HANDLER="events"),
            STREAM_EVENT)


if __name__ == "__main__":
    main()
