#!/bin/sh
# bench/wasm/run.sh [REPS]: WebAssembly engine benchmarks.
#
# Builds aox-wasm (Release) in its own build dir ($AOX_BENCH_BUILD, default
# build-bench-wasm/), compiles every bench/wasm/*.c to wasm32-wasi with clang-14
# ($WASM_CFLAGS, default -O2 -mbulk-memory: memcpy/memmove/memset become
# memory.copy/memory.fill, a WebAssembly 2.0 feature that wasm3, iwasm, wabt and V8
# all run; WASM_CFLAGS=-O2 gives MVP code, where wasi-libc's byte and word loops do
# the copying) and natively with gcc -O2, checks that every runtime's output equals
# the native output, then runs each REPS times (default 3) and prints the median time
# (CPU time by default, see BENCH_CLOCK below) of native (the baseline measured in this
# same run), aox and the reference runtimes, each with its ratio to native, and for
# each reference the ratio aox/reference (below 1 = aox faster); then the geometric
# means. Every runtime first runs ref/empty.c (a program that does nothing) to measure
# its start-up, printed on its own line; the ratios are of times less start-up (at
# least 1 ms), so Node's start-up does not flatter aox on the short programs
# (BENCH_NET=0: ratios of the raw times).
#
# Reference runtimes, all running the same benchmark sources built with the same flags:
#   wabt    wabt's wasm-interp (default: the one on PATH; WABT=none skips it). Debian's
#           build has no --wasi, so it runs a second build of each program linked with
#           ref/wabt_wasi_shim.c (WASI calls done inside the module, output through
#           --host-print). It is slow, so it runs WABT_REPS times (default 1).
#   v8-lo   Node's V8 with its baseline compiler Liftoff only (--liftoff
#           --no-wasm-tier-up), through node:wasi, the same .wasm as aox (default: the
#           node on PATH; NODE=none skips it). A JIT, not an interpreter; the time
#           includes Node's start-up and its compiler threads (about 0.1-0.15 s of CPU).
#   wasm3, iwasm   when the env vars WASM3 / IWASM point to those runtimes.
# AOX_BIN=path uses that aox-wasm instead of building one (before/after comparisons).
set -eu
REPS=${1:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${AOX_BENCH_BUILD:-$ROOT/build-bench-wasm}
SYSROOT=${AOX_WASI_SYSROOT:-/usr}
WASM_CFLAGS=${WASM_CFLAGS:--O2 -mbulk-memory}
WABT=${WABT:-$(command -v wasm-interp || echo none)}
WABT_REPS=${WABT_REPS:-1}
NODE=${NODE:-$(command -v node || echo none)}
OUT=$BUILD/bench-wasm
mkdir -p "$OUT"

if [ -n "${AOX_BIN:-}" ]; then
  AOX=$AOX_BIN   # an aox-wasm built elsewhere (e.g. an older commit, for before/after)
else
  echo "building aox-wasm (Release) in $BUILD ..."
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1 || { cat "$OUT/cmake.log"; exit 1; }
  cmake --build "$BUILD" -j"$(nproc)" --target aox-wasm > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  AOX=$(find "$BUILD" -name aox-wasm -type f -perm -u+x | head -1)
fi
[ -x "$AOX" ] || { echo "aox-wasm not built"; exit 1; }

# CPU time (user+sys, by ref/cputime.c) by default: the machine may be shared, and
# wall time then counts waiting for a core. BENCH_CLOCK=wall measures wall time.
BENCH_CLOCK=${BENCH_CLOCK:-cpu}
CPUTIME=$OUT/cputime
gcc -O2 "$HERE/ref/cputime.c" -o "$CPUTIME"
now_ns() { date +%s%N; }
# median of N timings (seconds) of "$@" (N = $NREPS), stdout to $OUT/last.out;
# prints FAILED if the command fails
time_cmd() {
  : > "$OUT/times"
  i=0
  while [ $i -lt "$NREPS" ]; do
    if [ "$BENCH_CLOCK" = cpu ]; then
      "$CPUTIME" "$@" > "$OUT/last.out" 2> "$OUT/last.err" 3>> "$OUT/times" || {
        echo "FAILED"; echo "  $* failed: $(head -c 300 "$OUT/last.err")" >&2; return 0; }
    else
      t0=$(now_ns)
      "$@" > "$OUT/last.out" 2> "$OUT/last.err" || {
        echo "FAILED"; echo "  $* failed: $(head -c 300 "$OUT/last.err")" >&2; return 0; }
      t1=$(now_ns)
      echo "$t0 $t1" | awk '{printf "%.4f\n", ($2 - $1) / 1e9}' >> "$OUT/times"
    fi
    i=$((i + 1))
  done
  sort -n "$OUT/times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# wasm-interp's output with the shim: decode the host.print calls back into bytes
# (in place, in $OUT/last.out); fails if the guest exited non-zero
wabt_decode() {
  awk '/^called host host.print\(i32:/ { s = $0; sub(/.*i32:/, "", s); sub(/\).*/, "", s)
         if (s + 0 < 0) { rc = -1 - s; exit } printf "%c", s + 0 }
       END { exit rc }' "$OUT/last.out" > "$OUT/last.dec" && mv "$OUT/last.dec" "$OUT/last.out"
}
ratio() { echo "$1 $2" | awk '$1 == "FAILED" || $2 == "FAILED" {print "-"; exit} {printf "%.2f", $1 / ($2 > 0 ? $2 : 1e-4)}'; }
# net TIME STARTUP: the time less the runtime's start-up (BENCH_NET=1, default), >= 1 ms
BENCH_NET=${BENCH_NET:-1}
net() {
  if [ "$BENCH_NET" = 0 ]; then echo "$1"; return; fi
  echo "$1 $2" | awk '$1 == "FAILED" || $2 == "FAILED" {print "FAILED"; exit}
                      {d = $1 - $2; printf "%.4f", d < 0.001 ? 0.001 : d}'
}

clang-14 --target=wasm32-wasi --sysroot="$SYSROOT" $WASM_CFLAGS -fuse-ld=lld "$HERE/ref/empty.c" -o "$OUT/empty.wasm"
[ "$WABT" != none ] && clang-14 --target=wasm32-wasi --sysroot="$SYSROOT" $WASM_CFLAGS -fuse-ld=lld \
  "$HERE/ref/empty.c" "$HERE/ref/wabt_wasi_shim.c" -o "$OUT/empty.wabt.wasm"
gcc -O2 "$HERE/ref/empty.c" -o "$OUT/empty.native"
progs=""
for src in "$HERE"/*.c; do
  p=$(basename "$src" .c)
  clang-14 --target=wasm32-wasi --sysroot="$SYSROOT" $WASM_CFLAGS -fuse-ld=lld "$src" -o "$OUT/$p.wasm"
  [ "$WABT" != none ] && clang-14 --target=wasm32-wasi --sysroot="$SYSROOT" $WASM_CFLAGS -fuse-ld=lld \
    "$src" "$HERE/ref/wabt_wasi_shim.c" -o "$OUT/$p.wabt.wasm"
  gcc -O2 "$src" -o "$OUT/$p.native"
  progs="$progs $p"
done

# one reference: time it, check output, print "time xnative aox/ref", log ratios.
# ref NAME DECODER CMD...: DECODER (or "-") turns $OUT/last.out into the program output
ref() {
  name=$1; dec=$2; shift 2
  tr=$(time_cmd "$@")
  if [ "$tr" != FAILED ] && [ "$dec" != - ] && ! "$dec"; then
    echo "$p: $name: guest failed" >&2; tr=FAILED
  fi
  if [ "$tr" != FAILED ] && ! cmp -s "$OUT/last.out" "$OUT/$p.native.out"; then
    echo "$p: $name output differs from native" >&2; tr=FAILED
  fi
  nr=$(net "$tr" "$su")
  rn=$(ratio "$nr" "$nn"); rr=$(ratio "$na" "$nr")
  printf ' %9s %6s %8s' "$tr" "$rn" "$rr"
  line="$line $name $rn aox/$name $rr"
}

# start-up of each runtime (ref/empty.c), the same number of runs as the programs
NREPS=$REPS
V8_CMD="$NODE --no-warnings --liftoff --no-wasm-tier-up $HERE/ref/node_wasi.mjs"
SU_NATIVE=$(time_cmd "$OUT/empty.native")
SU_AOX=$(time_cmd "$AOX" run "$OUT/empty.wasm")
SU_WABT=0; SU_V8=0; SU_WASM3=0; SU_IWASM=0
[ "$WABT" != none ] && SU_WABT=$(time_cmd "$WABT" --host-print --run-all-exports "$OUT/empty.wabt.wasm")
[ "$NODE" != none ] && SU_V8=$(time_cmd $V8_CMD "$OUT/empty.wasm")
[ -n "${WASM3:-}" ] && SU_WASM3=$(time_cmd "$WASM3" "$OUT/empty.wasm")
[ -n "${IWASM:-}" ] && SU_IWASM=$(time_cmd "$IWASM" "$OUT/empty.wasm")
echo "start-up (ref/empty.c): native $SU_NATIVE aox $SU_AOX wabt $SU_WABT v8-lo $SU_V8 wasm3 $SU_WASM3 iwasm $SU_IWASM"
[ "$BENCH_NET" = 0 ] || echo "(ratios are of times less each runtime's start-up, at least 1 ms)"
printf '%-9s %8s %8s %6s' program native aox xnat
for r in wabt v8-lo wasm3 iwasm; do
  case $r in wabt) v=$WABT;; v8-lo) v=$NODE;; wasm3) v=${WASM3:-none};; iwasm) v=${IWASM:-none};; esac
  [ "$v" != none ] && printf ' %9s %6s %8s' "$r" xnat "aox/$r"
done
printf '\n'
: > "$OUT/ratios"
for p in $progs; do
  NREPS=$REPS
  tn=$(time_cmd "$OUT/$p.native"); cp "$OUT/last.out" "$OUT/$p.native.out"
  ta=$(time_cmd "$AOX" run "$OUT/$p.wasm")
  if [ "$ta" != FAILED ] && ! cmp -s "$OUT/last.out" "$OUT/$p.native.out"; then
    echo "$p: aox output differs from native:" >&2; diff "$OUT/$p.native.out" "$OUT/last.out" | head -5 >&2
    ta=FAILED
  fi
  nn=$(net "$tn" "$SU_NATIVE"); na=$(net "$ta" "$SU_AOX")
  ra=$(ratio "$na" "$nn")
  printf '%-9s %8s %8s %6s' "$p" "$tn" "$ta" "$ra"
  line="aox $ra"
  if [ "$WABT" != none ]; then
    NREPS=$WABT_REPS; su=$SU_WABT; ref wabt wabt_decode "$WABT" --host-print --run-all-exports "$OUT/$p.wabt.wasm"; NREPS=$REPS
  fi
  [ "$NODE" != none ] && su=$SU_V8 && ref v8-lo - $V8_CMD "$OUT/$p.wasm"
  [ -n "${WASM3:-}" ] && su=$SU_WASM3 && ref wasm3 - "$WASM3" "$OUT/$p.wasm"
  [ -n "${IWASM:-}" ] && su=$SU_IWASM && ref iwasm - "$IWASM" "$OUT/$p.wasm"
  printf '\n'
  echo "$line" >> "$OUT/ratios"
done
awk '{ for (i = 1; i < NF; i += 2) if ($(i+1) != "-") { s[$i] += log($(i+1)); n[$i]++; if (!($i in o)) o[$i] = ++k; }
       }
     END { printf "geometric means (xnat = time / native time; aox/X = aox time / X time):\n"
           for (j = 1; j <= k; j++) for (name in o) if (o[name] == j)
             printf "  %-10s %6.2f%s\n", name, exp(s[name] / n[name]), name ~ /^aox\// ? "" : "x native" }' "$OUT/ratios"
echo "(median of $REPS runs, wabt $WABT_REPS; $BENCH_CLOCK time in seconds; native = gcc -O2; wasm = clang-14 $WASM_CFLAGS wasm32-wasi)"
