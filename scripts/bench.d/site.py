"""The website's figures for ./scripts/bench: an author publishes POSTS
posts through the API (each publish regenerates the site), then the
figures the issue asks for: the files one edit writes, the time from an
edit's answer to its page on disk, and (by the binary's `site build`, with
the server stopped) a full build from nothing and a second build.

    python3 scripts/bench.d/site.py BINARY DATA_DIR [POSTS]

Runs its own server on DATA_DIR (the embedded default, JSON logs).
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

binary, data = sys.argv[1], pathlib.Path(sys.argv[2])
posts = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
site = data / "site"
shutil.rmtree(data, ignore_errors=True)
data.mkdir(parents=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
base = f"http://127.0.0.1:{port}"
env = dict(os.environ, APP_DATA_DIR=str(data), APP_ADDR=f"127.0.0.1:{port}", APP_LOG_FORMAT="json",
           APP_THROTTLE_WRITES="0", APP_THROTTLE_READS="0", APP_THROTTLE_PUBLIC="0")


def start():
    log = open(data / "server.log", "a")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/readyz")
            return server
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def call(method, path, token, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return response.headers.get("ETag")


def builds(post):
    """What each build for a change of `post` did, from the log."""
    found = []
    for line in (data / "server.log").read_text().splitlines():
        if '"site rebuilt"' in line and f'"POST#{post}"' in line:
            found.append(json.loads(line))
    return found


token = subprocess.run([binary, "token", "--user", "bench", "--group", "authors", "--ttl", "2h"],
                       env=env, capture_output=True, text=True, check=True).stdout.strip()
server = start()
paragraph = "A paragraph of an ordinary post, with *emphasis* and a [link](https://example.com). " * 6
began = time.perf_counter()
for n in range(posts):
    body = {"title": f"Post {n}", "body": f"{paragraph}\n\n## More\n\n{paragraph}", "status": "published"}
    tag = call("POST", "/blog/posts", token, body)
last = f"post-{posts - 1}"
page = site / "posts" / last / "index.html"
while not page.exists():
    time.sleep(0.05)
seeded = time.perf_counter() - began
print(f"  {f'publish {posts:,} posts, site kept up':<34} {seeded:.1f} s ({seeded / posts * 1000:.1f} ms a post)")

# The feed may still hold publishes whose builds find nothing left to do.
quiet, count = time.perf_counter(), -1
while time.perf_counter() - quiet < 1.0:
    now = (data / "server.log").read_text().count('"site rebuilt"')
    if now != count:
        quiet, count = time.perf_counter(), now
    time.sleep(0.05)
before = len(builds("post-0"))
target = site / "posts" / "post-0" / "index.html"
began = time.perf_counter()
call("PATCH", "/blog/posts/post-0", token, {"title": "Post 0, edited"})
answered = time.perf_counter()
while "Post 0, edited" not in target.read_text():
    time.sleep(0.002)
on_disk = time.perf_counter()
while len(builds("post-0")) == before:
    time.sleep(0.01)
edit = builds("post-0")[-1]
print(f"  {'one edit (the oldest post)':<34} page on disk {(on_disk - answered) * 1000:.0f} ms after the answer, "
      f"wrote {edit['written']} files of {edit['written'] + edit['unchanged']}")
server.terminate()
server.wait()


def build():
    out = subprocess.run([binary, "site", "build"], env=env, capture_output=True, text=True, check=True).stdout
    return out.strip()


shutil.rmtree(site)
print(f"  {'atrium site build, from nothing':<34} {build().split(': ', 1)[1]}")
print(f"  {'atrium site build, again':<34} {build().split(': ', 1)[1]}")
size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
print(f"  {'the site':<34} {sum(1 for f in site.rglob('*') if f.is_file()):,} files, {size / 1e6:.1f} MB")
