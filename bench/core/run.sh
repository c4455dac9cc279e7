#!/usr/bin/env bash
# Builds (Release, in build-bench/) and runs the core benchmark: schedule throughput
# (in process and over loopback HTTP), compute throughput with test-counter@1.0, and
# cached-result latency (p50/p99). Usage: bench/core/run.sh [N-messages]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="${AOX_BENCH_BUILD:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target bench_core >&2
exec "$build/bench/bench_core" "$@"
