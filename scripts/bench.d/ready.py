"""Starts a server and prints how many milliseconds passed from its start
to its first `/readyz` 200, then its pid; the server keeps running.

    python3 ready.py PORT COMMAND [ARG...]

A shell loop of `curl` measures curl too: each try starts a process, which
here costs a few milliseconds, more than the steps being measured. This
polls with a socket every half millisecond instead.
"""

import socket
import subprocess
import sys
import time

POLL_SECONDS = 0.0005
GIVE_UP_SECONDS = 30


def ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def main() -> None:
    port, command = int(sys.argv[1]), sys.argv[2:]
    started = time.monotonic()
    # Its output goes to our stderr: our stdout is the figure.
    server = subprocess.Popen(command, stdout=sys.stderr)
    while not ready(port):
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode} before it was ready")
        if time.monotonic() - started > GIVE_UP_SECONDS:
            server.kill()
            sys.exit(f"not ready after {GIVE_UP_SECONDS} s")
        time.sleep(POLL_SECONDS)
    print(f"{(time.monotonic() - started) * 1000:.1f} {server.pid}")


if __name__ == "__main__":
    main()
