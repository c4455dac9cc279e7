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
#      each transfer, each on the previous manifest);
#   4. glue.c + Lua + process.lua compiled natively (host cc) with handle() called
#      directly: the same work without the wasm engine.
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
# the same glue, Lua and script compiled natively: what the engine costs
cc=${CC:-cc}
lua="$build/aoslua-src/lua-5.3.6/src"
srcs=()
for f in "$lua"/l*.c; do
  case $(basename "$f") in lua.c|luac.c) ;; *) srcs+=("$f") ;; esac
done
"$cc" -O2 -w "-Dluai_makeseed()=0x5eedu" -I"$lua" -I"$mods/gen" \
  "$root/tests/aoslua/glue.c" "$root/tests/aoslua/native_drv.c" "${srcs[@]}" -lm \
  -o "$build/aoslua_native_drv"
"$build/aoslua_native_drv" "$n"
