#!/bin/sh
# fuzz-wasm.sh SECONDS: fuzz the WebAssembly decoder/validator with libFuzzer.
#
# Builds tests/wasm/fuzz_decode.c and the engine with clang-14
# (-fsanitize=fuzzer-no-link,address,undefined) in its own build dir
# (build-fuzz/, or $AOX_FUZZ_BUILD), seeds a corpus with every binary module of the
# spec tests (converted with wast2json), and runs for SECONDS (default 60).
# Crashing inputs are copied into tests/wasm/fuzz-crashes/ (the CTest
# wasm_fuzz_regress replays them) and the script exits 1.
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${AOX_FUZZ_BUILD:-$ROOT/build-fuzz}
SUITE=${AOX_WASM_TESTSUITE:-$ROOT/../shared/wasm-testsuite}
CC=${CC:-clang-14}
command -v "$CC" >/dev/null || { echo "fuzz-wasm.sh: $CC not found" >&2; exit 2; }
command -v wast2json >/dev/null || { echo "fuzz-wasm.sh: wast2json (wabt) not found" >&2; exit 2; }
[ -d "$SUITE/core" ] || { echo "fuzz-wasm.sh: spec testsuite not found at $SUITE" >&2; exit 2; }

mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAOX_FUZZ=ON -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  > "$BUILD/fuzz-cmake.log" 2>&1 || { cat "$BUILD/fuzz-cmake.log"; exit 2; }
cmake --build "$BUILD" -j"$(nproc)" --target fuzz_decode > "$BUILD/fuzz-build.log" 2>&1 \
  || { tail -50 "$BUILD/fuzz-build.log"; exit 2; }

WORK=$(mktemp -d /tmp/aox-fuzz-XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$WORK/corpus" "$WORK/json" "$WORK/artifacts"
i=0
for wast in "$SUITE"/core/*.wast "$SUITE"/memory64/*.wast "$SUITE"/exception-handling/*.wast; do
  case $(basename "$wast") in simd_*) continue ;; esac
  flag=""
  case $wast in */memory64/*) flag=--enable-memory64 ;; */exception-handling/*) flag=--enable-exceptions ;; esac
  i=$((i + 1))
  mkdir -p "$WORK/json/$i"
  wast2json $flag "$wast" -o "$WORK/json/$i/s.json" >/dev/null 2>&1 || continue
  for m in "$WORK/json/$i"/*.wasm; do
    [ -f "$m" ] && cp "$m" "$WORK/corpus/$i-$(basename "$m")"
  done
done
echo "fuzz-wasm.sh: seed corpus: $(ls "$WORK/corpus" | wc -l) modules; fuzzing for ${SECS}s"

set +e
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$BUILD/tests/wasm/fuzz_decode" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" \
  > "$WORK/fuzz.log" 2>&1
rc=$?
set -e
if grep -q "ERROR:\|runtime error:" "$WORK/fuzz.log"; then
  # the sanitizer report (the summary alone does not say where)
  grep -m1 -A 30 "ERROR:\|runtime error:" "$WORK/fuzz.log"
else
  tail -8 "$WORK/fuzz.log"
fi
found=0
for a in "$WORK"/artifacts/*; do
  [ -f "$a" ] || continue
  cp "$a" "$ROOT/tests/wasm/fuzz-crashes/"
  echo "fuzz-wasm.sh: saved $(basename "$a") to tests/wasm/fuzz-crashes/"
  found=1
done
if [ $rc -ne 0 ] || [ $found = 1 ]; then
  echo "fuzz-wasm.sh: FAILED (libFuzzer exit $rc)"
  exit 1
fi
echo "fuzz-wasm.sh: no crashes in ${SECS}s"
