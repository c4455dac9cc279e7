#!/usr/bin/env bash
# bench/aoslua/run.sh: figures for tests/aoslua (a real Lua 5.3 VM in wasm32).
#
#   bench/aoslua/run.sh [transfers] [snapshots]      (defaults 3000 and 50)
#
# Builds aoslua_bench and aoslua.wasm in build-bench-aoslua/ (Release; Lua's source
# is fetched from Debian once, see tests/aoslua/fetch_lua.sh), then, compute only,
# through the device vtable over a memory store:
#   1. Transfer messages per second of tests/aoslua/process.lua as aoslua.wasm on
#      wasm@1.0 (JSON interface, default emscripten setjmp/longjmp build);
#   2. the same script, unchanged, on the native lua@5.3 device, and the ratio;
#   3. snapshot bytes written per message for the aoslua process (one snapshot after
#      each transfer, each on the previous manifest).
# Timing only: nothing here is a test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-bench-aoslua"
n=${1:-3000}
snaps=${2:-50}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target aoslua_bench aoslua_modules >/dev/null
mods="$build/tests/aoslua/modules"
if [ ! -f "$mods/aoslua_sjlj.wasm" ]; then
  echo "aoslua.wasm was not built:" >&2
  cat "$mods/aoslua_sjlj.wasm.fetch-failed" >&2 || true
  exit 1
fi
"$build/tests/aoslua/aoslua_bench" "$mods/aoslua_sjlj.wasm" "$root/tests/aoslua/process.lua" \
  "$n" "$snaps"
