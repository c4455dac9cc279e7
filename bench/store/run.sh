#!/usr/bin/env bash
# bench/store/run.sh: builds aox_store (Release, its own build dir) and bench_store,
# then prints store figures for LMDB (a temp dir) and for Redis (a throw-away
# redis-server with appendonly yes + appendfsync always, started and stopped by
# tests/store/redis_run.sh). Usage: bench/store/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-bench-store}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target aox_store >/dev/null
cc -O2 -std=c17 -D_GNU_SOURCE -I"$root/src" -o "$build/bench_store" \
   "$root/bench/store/bench_store.c" "$build/src/store/libaox_store.a" \
   "$build/src/core/libaox_core.a" $(pkg-config --libs lmdb hiredis jansson libcrypto) \
   -lpthread -lm
echo "store bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aox-bench-store-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$build/bench_store" "lmdb:$tmp/lmdb"
sh "$root/tests/store/redis_run.sh" run "$build/bench_store" 2>/dev/null
