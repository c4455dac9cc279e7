#!/usr/bin/env bash
# bench/lua/run.sh: builds bench_lua (Release, its own build dir) and prints the
# lua@5.3 figures: messages/s for a small handler, rollback cost, and snapshot /
# restore time and size for a ~50 MB state. Usage: bench/lua/run.sh [state-MB]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-bench-lua}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target bench_lua >/dev/null
echo "lua@5.3 bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
"$build/tests/lua/bench_lua" "${1:-50}"
