#!/usr/bin/env bash
# bench/aos/run.sh: figures for the aos / emscripten execution devices (src/aos).
#
#   bench/aos/run.sh [messages]        (default 5000)
#
# Builds aos_bench and the wasm64 test modules in build-bench-aos/ (Release), then
# drives a json-iface process through the device vtable over a memory store:
#   1. small handle (wasm64 WAT, 256 KiB memory): messages per second, failing
#      (rolled back) messages per second;
#   2. a 100 MiB memory of which one page changes per message: snapshot bytes written
#      per message (one snapshot after every message, each on the previous manifest),
#      manifest size and snapshot time;
#   after every successful message the state digest is taken, as the process layer
#   does (digest_first_ms: the first, full one; digest_us_per_msg: the rest);
#   3. the C (emscripten, setjmp/longjmp) module when emcc is available.
# Timing only: nothing here is a test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-bench-aos"
n=${1:-5000}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target aos_bench aos_wat_modules >/dev/null
mods="$build/tests/aos/modules"
echo "== small handle, wasm64 (json-iface), failing messages grow memory then trap"
"$build/tests/aos/aos_bench" "$mods/mod64_small.wasm" "$n" 20 f
echo "== failing messages that do not grow memory"
"$build/tests/aos/aos_bench" "$mods/mod64_small.wasm" "$n" 0 g | grep failed
echo "== 100 MiB memory, one page changed per message"
"$build/tests/aos/aos_bench" "$mods/mod64_big.wasm" "$n" 50
echo "== the same without the state digest (AOS_BENCH_DIGEST=0)"
AOS_BENCH_DIGEST=0 "$build/tests/aos/aos_bench" "$mods/mod64_big.wasm" "$n" 0 | grep msgs_per_s
