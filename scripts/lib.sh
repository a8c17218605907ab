# Shell helpers shared by scripts/test, scripts/test-container,
# scripts/load, scripts/site and scripts/lighthouse (sourced, not run).

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts moto (from .venv) on a free port with its DynamoDB made serial (see
# scripts/moto-server.py), logging to $1; sets moto_pid and exports what the
# tests need to find it and sign for it.
start_moto() {
  local port
  port=$(free_port)
  .venv/bin/python scripts/moto-server.py -H 127.0.0.1 -p "$port" >"$1" 2>&1 &
  moto_pid=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null && break
    sleep 0.2
  done
  export ATRIUM_TEST_MOTO="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
}

# apt-get, one at a time: ./scripts/test installs the container's tools in
# the background while other stages may install theirs, and apt fails
# rather than waits when another apt holds its lock.
apt_get() {
  as_root flock "${TMPDIR:-/tmp}/atrium-apt.lock" apt-get "$@"
}

# Runs a command as root (through sudo unless we are root already).
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

# Debian's Chromium at /usr/bin/chromium, installed with apt-get when it is
# missing; a fresh machine may have no package lists yet, so update once and
# retry.
ensure_chromium() {
  [[ -x /usr/bin/chromium ]] && return
  echo "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt_get install -y -q --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt_get update -q >/dev/null && apt_get install -y -q --no-install-recommends chromium >/dev/null; }
}

# Starts BINARY (`serve`) on a free port with the environment already
# exported, logging to $2; waits for /readyz; sets server_pid and base.
start_server() {
  local port
  port=$(free_port)
  base="http://127.0.0.1:$port"
  APP_ADDR="127.0.0.1:$port" "$1" serve >"$2" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    sleep 0.1
  done
}

# Creates N todos ("todo 1".."todo N") for TOKEN's user on BASE; prints the
# last one's id.
make_todos() { # base token n
  local i id
  for i in $(seq 1 "$3"); do
    id=$(curl -fs -H "authorization: Bearer $2" -H 'content-type: application/json' \
      -d "{\"title\":\"todo $i\"}" "$1/todos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  done
  echo "$id"
}
