#!/usr/bin/env bash
# Installs what aox needs, builds it (Release) and runs a node: `aox serve "$@"`.
# This is the README's "run a node" command. Data goes to ./aox-data unless
# --data DIR (or AOX_DATA) says otherwise; the HTTP API listens on 127.0.0.1:8734.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" --runtime
build="$root/build-release"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target aox >&2
exec "$build/aox" serve "$@"
