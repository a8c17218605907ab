"""Memory around photo uploads for ./scripts/bench: a user uploads every
JPEG in PHOTOS_DIR, ROUNDS times (default 2), one after another through
the HTTP API (ticket, PUT, wait for the thumbnails), as a phone sends a
batch; prints the rate, and the server's RSS before, right after the last
and once the server has been idle for IDLE seconds (default 3; the
large-work threads keep a photo's pages only while more come).

    python3 scripts/bench.d/uploads.py BASE_URL TOKEN PID PHOTOS_DIR [ROUNDS] [IDLE]
"""
import json
import pathlib
import sys
import time
import urllib.request

base, token, pid, photos_dir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 2
idle = float(sys.argv[6]) if len(sys.argv) > 6 else 3.0
photos = sorted(pathlib.Path(photos_dir).glob("*.jpg"))
auth = {"Authorization": f"Bearer {token}"}


def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no process {pid}")


def call(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request) as response:
        return response.read()


def upload(path):
    data = path.read_bytes()
    asked = {"filename": path.name, "content_type": "image/jpeg", "size": len(data)}
    ticket = json.loads(call("POST", base + "/uploads", json.dumps(asked).encode(),
                             dict(auth, **{"Content-Type": "application/json"})))
    headers = {name: value for name, value in ticket["headers"] if name != "host"}
    call(ticket["method"], ticket["url"], data, headers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = json.loads(call("GET", f"{base}/uploads/{ticket['id']}", headers=auth))
        if state["status"] != "pending":
            assert state["status"] == "ready", state
            assert len(state["thumbnails"]) == 2, state
            return
        time.sleep(0.02)
    raise SystemExit(f"upload {ticket['id']} stayed pending")


before = rss_mib()
began = time.perf_counter()
for _ in range(rounds):
    for path in photos:
        upload(path)
elapsed = time.perf_counter() - began
count = rounds * len(photos)
after = rss_mib()
time.sleep(idle)
rested = rss_mib()
print(f"  {f'{count} photo uploads, one at a time':<34} {count / elapsed:.2f} photos/s")
print(f"  {'RSS before / after / idle':<34} {before:.1f} / {after:.1f} / {rested:.1f} MiB ({idle:.0f} s idle)")
