#!/bin/sh
# bench/cluster/run.sh [MESSAGES_PER_PROCESS] [LEASE_TTL] [STORE_URI]: 3-node cluster on
# one redis-server vs one node (Redis and LMDB), and take-over time after kill -9.
# STORE_URI: use that Redis instead of starting one, e.g. a Redis Cluster:
#   sh tests/store/redis_cluster_run.sh sh bench/cluster/run.sh 100 1s
# Builds build-bench (Release) if needed; needs redis-server and python3.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${AOX_BENCH_BUILD:-$ROOT/build-bench}
if [ ! -x "$B/aox" ]; then
  cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$B" -j2 --target aox >/dev/null
fi
exec python3 "$ROOT/bench/cluster/bench_cluster.py" "$B/aox" "${1:-200}" "${2:-1s}" ${3:+"$3"}
