#!/usr/bin/env bash
# Builds aox (Release, in build-bench/) and runs the load test: 1,000 test-counter
# processes driven with concurrent schedule + compute from 4 client processes x 4
# threads for 20 s over loopback; throughput, p50/p99 latency, answers by status,
# node RSS over time. Usage: bench/load/run.sh [load.py options, e.g. --seconds 10]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="${AOX_BENCH_BUILD:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target aox >&2
exec python3 "$root/bench/load/load.py" "$build/aox" "$@"
