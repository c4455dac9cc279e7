#!/bin/sh
# bench/wasm/run.sh [REPS]: WebAssembly engine benchmarks.
#
# Builds aox-wasm (Release) in its own build dir ($AOX_BENCH_BUILD, default
# build-bench-wasm/), compiles every bench/wasm/*.c to wasm32-wasi with clang-14 -O2
# and natively with gcc -O2, checks that the wasm output equals the native output,
# then runs each REPS times (default 3) and prints the median wall time of native
# (the baseline measured in this same run), aox, and - when the env vars WASM3 /
# IWASM point to those runtimes - wasm3 and iwasm, each with its ratio to native,
# plus the geometric mean of the ratios.
set -eu
REPS=${1:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${AOX_BENCH_BUILD:-$ROOT/build-bench-wasm}
SYSROOT=${AOX_WASI_SYSROOT:-/usr}
OUT=$BUILD/bench-wasm
mkdir -p "$OUT"

echo "building aox-wasm (Release) in $BUILD ..."
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1 || { cat "$OUT/cmake.log"; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target aox-wasm > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
AOX=$(find "$BUILD" -name aox-wasm -type f -perm -u+x | head -1)
[ -x "$AOX" ] || { echo "aox-wasm not built"; exit 1; }

now_ns() { date +%s%N; }
# median of REPS timings (seconds) of "$@", stdout to $OUT/last.out
time_cmd() {
  : > "$OUT/times"
  i=0
  while [ $i -lt "$REPS" ]; do
    t0=$(now_ns)
    "$@" > "$OUT/last.out" 2> "$OUT/last.err" || {
      echo "FAILED"; echo "  $* failed: $(head -c 300 "$OUT/last.err")" >&2; return 0; }
    t1=$(now_ns)
    echo "$t0 $t1" | awk '{printf "%.4f\n", ($2 - $1) / 1e9}' >> "$OUT/times"
    i=$((i + 1))
  done
  sort -n "$OUT/times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

progs=""
for src in "$HERE"/*.c; do
  p=$(basename "$src" .c)
  clang-14 --target=wasm32-wasi --sysroot="$SYSROOT" -O2 -fuse-ld=lld "$src" -o "$OUT/$p.wasm"
  gcc -O2 "$src" -o "$OUT/$p.native"
  progs="$progs $p"
done

printf '%-10s %10s %10s %8s' program native aox ratio
[ -n "${WASM3:-}" ] && printf ' %10s %8s' wasm3 ratio
[ -n "${IWASM:-}" ] && printf ' %10s %8s' iwasm ratio
printf '\n'
: > "$OUT/ratios"
for p in $progs; do
  tn=$(time_cmd "$OUT/$p.native"); cp "$OUT/last.out" "$OUT/$p.native.out"
  ta=$(time_cmd "$AOX" run "$OUT/$p.wasm")
  if ! cmp -s "$OUT/last.out" "$OUT/$p.native.out"; then
    echo "$p: aox output differs from native:"; diff "$OUT/$p.native.out" "$OUT/last.out" | head -5
    ta=FAILED
  fi
  ra=$(echo "$ta $tn" | awk '$1 == "FAILED" {print "-"; exit} {printf "%.1f", $1 / ($2 > 0 ? $2 : 1e-4)}')
  printf '%-10s %10s %10s %8s' "$p" "$tn" "$ta" "$ra"
  line="aox $ra"
  if [ -n "${WASM3:-}" ]; then
    t3=$(time_cmd "$WASM3" "$OUT/$p.wasm")
    r3=$(echo "$t3 $tn" | awk '$1 == "FAILED" {print "-"; exit} {printf "%.1f", $1 / ($2 > 0 ? $2 : 1e-4)}')
    printf ' %10s %8s' "$t3" "$r3"; line="$line wasm3 $r3"
  fi
  if [ -n "${IWASM:-}" ]; then
    ti=$(time_cmd "$IWASM" "$OUT/$p.wasm")
    ri=$(echo "$ti $tn" | awk '$1 == "FAILED" {print "-"; exit} {printf "%.1f", $1 / ($2 > 0 ? $2 : 1e-4)}')
    printf ' %10s %8s' "$ti" "$ri"; line="$line iwasm $ri"
  fi
  printf '\n'
  echo "$line" >> "$OUT/ratios"
done
awk '{ for (i = 1; i < NF; i += 2) if ($(i+1) != "-") { s[$i] += log($(i+1)); n[$i]++ } }
     END { printf "geometric mean ratio vs native:"; for (k in s) printf "  %s %.1fx", k, exp(s[k] / n[k]); printf "\n" }' "$OUT/ratios"
echo "(median of $REPS runs, wall time in seconds; native = gcc -O2, wasm = clang-14 -O2 wasm32-wasi)"
