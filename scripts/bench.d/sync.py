"""Offline-sync figures for ./scripts/bench: a phone's queue of 10,000 todos
sent as 25-operation batches (latency of each batch), then a new device's
first sync of all of them (time, pages, bytes), then the account's export
(time, bytes) and erasure (time), which leave nothing behind.

    python3 scripts/bench.d/sync.py BASE_URL TOKEN [TODOS]
"""
import json
import sys
import time
import urllib.request

base, token = sys.argv[1], sys.argv[2]
todos = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
auth = {"Authorization": f"Bearer {token}"}


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = dict(auth, **({"Content-Type": "application/json"} if data else {}))
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request) as response:
        return response.read()


latencies = []
for start in range(0, todos, 25):
    operations = [
        {"op": "create", "todo": {"title": f"todo {n}", "notes": "made offline"}}
        for n in range(start, min(start + 25, todos))
    ]
    body = {"client_id": "bench-phone", "mutation_id": start // 25 + 1, "operations": operations}
    began = time.perf_counter()
    call("POST", "/todos/batch", body)
    latencies.append(time.perf_counter() - began)

latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
print(f"  {'POST /todos/batch, 25 creates':<34} p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms ({len(latencies)} batches)")

began = time.perf_counter()
since, pages, size, seen = None, 0, 0, 0
while True:
    query = "?limit=1000" + (f"&since={since}" if since else "")
    raw = call("GET", "/todos/changes" + query)
    pages, size = pages + 1, size + len(raw)
    answer = json.loads(raw)
    seen += len(answer["changes"])
    since = answer["next"]
    if not answer["more"]:
        break
elapsed = time.perf_counter() - began
assert seen == todos, f"synced {seen} of {todos}"
print(f"  {f'first sync of {todos:,} todos':<34} {elapsed * 1000:.0f} ms, {pages} pages of up to 1,000, {size / 1e6:.1f} MB")

began = time.perf_counter()
document = call("GET", "/me/export")
elapsed = time.perf_counter() - began
assert len(json.loads(document)["todos"]) == todos
print(f"  {f'GET /me/export, {todos:,} todos':<34} {elapsed * 1000:.0f} ms, {len(document) / 1e6:.1f} MB")

began = time.perf_counter()
call("DELETE", "/me")
elapsed = time.perf_counter() - began
assert json.loads(call("GET", "/todos/changes"))["changes"] == []
print(f"  {f'DELETE /me, {todos:,} todos':<34} {elapsed * 1000:.0f} ms (with their change log)")
