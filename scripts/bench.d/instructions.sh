#!/usr/bin/env bash
# Instructions the server runs per request, counted by callgrind: for one
# binary they move by a few percent between runs (moka's and tokio's
# housekeeping), not with what else the machine is doing, so their ratios
# to /healthz hold still where req/s ratios move by several points.
#
#   scripts/bench.d/instructions.sh BINARY
#
# Starts BINARY under `valgrind --tool=callgrind` with instrumentation off
# and makes a todo list of 20. Then, three times, for each route: a 1 s
# warm-up, instrumentation on around a 3 s wrk run on one connection (each
# request wakes the server the same way), a dump, and the dump's total
# divided by wrk's request count. Prints each route's median. Server
# threads only: the kernel's share (a bigger answer costs more there too)
# is not counted.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
bin=$1
if ! command -v valgrind >/dev/null 2>&1; then
  echo "  instructions per request: n/a (no valgrind)"
  exit 0
fi
dir=$(mktemp -d) port=$(free_port)
base="http://127.0.0.1:$port"
export APP_THROTTLE_READS=10000000 APP_THROTTLE_WRITES=10000000 APP_THROTTLE_PUBLIC=10000000
APP_DATA_DIR=$dir "$bin" token --user bench >/dev/null
token=$(APP_DATA_DIR=$dir "$bin" token --user bench --ttl 1h)
APP_DATA_DIR=$dir PORT=$port RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$dir/cg.out" "$bin" 2>/dev/null & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
until curl -fs -o /dev/null "$base/readyz"; do sleep 0.1; done
id=$(make_todos "$base" "$token" 20)
dumps=0
count() { # path [auth]: prints instructions per request
  local args=("$base$1")
  [[ ${2:-} == auth ]] && args=(-H "authorization: Bearer $token" "${args[@]}")
  wrk -t1 -c1 -d1s "${args[@]}" >/dev/null # fills the caches, uninstrumented
  callgrind_control -i on "$pid" >/dev/null 2>&1
  local n
  n=$(wrk -t1 -c1 -d3s "${args[@]}" | awk '/requests in/ {print $1}')
  callgrind_control -i off "$pid" >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  dumps=$((dumps + 1))
  local total
  total=$(awk '/^totals:/ {print $2}' "$dir/cg.out.$dumps")
  echo $((total / n))
}
# Three alternating rounds, each route's median: moka's and tokio's
# housekeeping land in one round or another, a few percent either way.
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
h=() t=() l=()
for _ in 1 2 3; do
  h+=("$(count /healthz)") t+=("$(count "/todos/$id" auth)") l+=("$(count /todos auth)")
done
healthz=$(median "${h[@]}") todo=$(median "${t[@]}") list=$(median "${l[@]}")
ratio() { python3 -c "print(f'{$2/$1:.2f}')"; }
echo "instructions per request (callgrind; ratio is /healthz's count over the route's):"
printf '  %-34s %10s\n' "GET /healthz" "$healthz"
printf '  %-34s %10s %7sx\n' "GET /todos/{id} (auth, cache hit)" "$todo" "$(ratio "$todo" "$healthz")"
printf '  %-34s %10s %7sx\n' "GET /todos (auth, 20 items)" "$list" "$(ratio "$list" "$healthz")"
