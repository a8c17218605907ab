# Shell helpers shared by scripts/test and scripts/load (sourced, not run).

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
