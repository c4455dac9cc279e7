#!/usr/bin/env bash
# bench/lua/run.sh: builds bench_lua, bench_lua_http and aox (Release, their own build
# dir) and prints the lua@5.3 figures: messages/s for a small handler compute-only
# (the baseline), rollback cost, and snapshot / restore time and size for a ~50 MB
# state (bench_lua, process CPU time); then the same handler end to end over HTTP
# against a real `aox serve` (bench_lua_http, wall time): schedule + compute per
# message and batched, once with the default durable store (fsync, group commit) and
# once with --store-no-sync.
# Usage: bench/lua/run.sh [state-MB] [messages-per-connection] [connections]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-bench-lua}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target bench_lua bench_lua_http aox >/dev/null
echo "lua@5.3 bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
"$build/tests/lua/bench_lua" "${1:-50}"

tmp="$(mktemp -d)"
node_pid=""
cleanup() {
    if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
for mode in durable no-sync; do
    extra=()
    [ "$mode" = no-sync ] && extra=(--store-no-sync)
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "$build/aox" serve --data "$tmp/$mode" --port "$port" --log-level warn "${extra[@]}" \
        >"$tmp/$mode.log" 2>&1 &
    node_pid=$!
    python3 - "$port" <<'EOF'
import http.client, sys, time
deadline = time.time() + 20
while time.time() < deadline:
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
        c.request("GET", "/healthz")
        if c.getresponse().status == 200:
            sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("aox serve did not start")
EOF
    echo "end to end over HTTP, aox serve ($mode store), wall time:"
    "$build/tests/lua/bench_lua_http" "http://127.0.0.1:$port" "${2:-2000}" "${3:-4}"
    kill "$node_pid"
    wait "$node_pid" || true
    node_pid=""
done
