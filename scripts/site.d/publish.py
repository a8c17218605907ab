"""An author's afternoon, through the API: two photos uploaded, twelve
posts published with every Markdown feature and hostile HTML (the first
with a cover and a photo in its text), and one draft.

    python3 scripts/site.d/publish.py BASE_URL TOKEN
"""

import json
import struct
import sys
import time
import urllib.request
import zlib

base, token = sys.argv[1], sys.argv[2]


def call(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    ours = path.startswith("/")  # else a signed upload URL: it carries its own rights
    request = urllib.request.Request(base + path if ours else path, data=data, method=method)
    if ours:
        request.add_header("authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("content-type", "application/json")
    for name, value in (headers or []):
        request.add_header(name, value)
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def png(width, height, tint):
    """A photo-like gradient as a PNG, written with zlib alone."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes(((x * 255 // width + tint) % 256, (y * 255 // height) % 256, (x + y + tint) % 256))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b"")


def upload(name, data):
    ticket = call("POST", "/uploads", {"filename": name, "content_type": "image/png", "size": len(data)})
    call(ticket["method"], ticket["url"], headers=ticket.get("headers", []), raw=data)
    for _ in range(100):
        if call("GET", f"/uploads/{ticket['id']}")["status"] == "ready":
            return ticket["id"]
        time.sleep(0.1)
    sys.exit(f"upload {name} never became ready")


cover = upload("harbour.png", png(1600, 900, 40))
inline = upload("detail.png", png(800, 600, 140))

markdown = """An opening paragraph with *emphasis*, **strength**, `code` and a [link](https://example.com).

## A heading

- a list
- of items

1. numbered
2. too

> A quotation.

```
fn main() {}
```

| a | b |
|---|---|
| 1 | 2 |

<script>alert(1)</script> <img src=x onerror=alert(2)> [bad](javascript:alert(3))
"""
for n in range(1, 13):
    post = {"title": f"Post number {n} & <friends>", "body": markdown, "status": "published"}
    if n == 1:
        post["cover_upload_id"] = cover
        post["body"] = markdown + f"\n![A detail of the harbour]({'upload:' + inline})\n"
    call("POST", "/blog/posts", post)
call("POST", "/blog/posts", {"title": "A draft", "body": "Not yet.", "slug": "a-draft"})
print(f"published 12 posts and a draft; photos {cover} and {inline}")
