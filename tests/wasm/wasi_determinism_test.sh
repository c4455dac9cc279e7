#!/bin/sh
# wasi_determinism_test.sh: the WASI host is deterministic. Builds
# modules/wasi_determinism.c and grow_until_fail.c with clang-14 for wasm32-wasi and checks:
# same seed+clock -> identical output; other seed -> other random bytes; the clock
# reads what --clock says; no file system; a memory cap gives the same bounded
# allocation count on every run.
# usage: wasi_determinism_test.sh AOX_WASM MODULES_DIR
set -u
AOX=$1; MODS=$2
SYSROOT=${AOX_WASI_SYSROOT:-/usr}
command -v clang-14 >/dev/null 2>&1 || { echo "SKIP: clang-14 not installed"; exit 77; }
[ -f "$SYSROOT/lib/wasm32-wasi/libc.a" ] || { echo "SKIP: wasi-libc not found under $SYSROOT"; exit 77; }
TMP=$(mktemp -d /tmp/aox-determ-XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
CC="clang-14 --target=wasm32-wasi --sysroot=$SYSROOT -O2 -fuse-ld=lld"
$CC "$MODS/wasi_determinism.c" -o "$TMP/d.wasm" || { echo "FAIL: build"; exit 1; }
$CC "$MODS/grow_until_fail.c" -o "$TMP/g.wasm" || { echo "FAIL: build"; exit 1; }

"$AOX" run --seed s1 --clock 1700000000123456789 "$TMP/d.wasm" > "$TMP/a" || fail "run a: $?"
"$AOX" run --seed s1 --clock 1700000000123456789 "$TMP/d.wasm" > "$TMP/b" || fail "run b: $?"
"$AOX" run --seed s2 --clock 1700000000123456789 "$TMP/d.wasm" > "$TMP/c" || fail "run c: $?"
cmp -s "$TMP/a" "$TMP/b" || fail "same seed, different output: $(diff "$TMP/a" "$TMP/b")"
ra=$(grep '^random:' "$TMP/a"); rc=$(grep '^random:' "$TMP/c")
[ -n "$ra" ] && [ "$ra" != "$rc" ] || fail "seed does not change random bytes ($ra / $rc)"
[ ${#ra} -eq $((7 + 80)) ] || fail "random line has wrong length: $ra"
grep -qx 'realtime: 1700000000.123456789' "$TMP/a" || fail "realtime not the virtual clock: $(grep realtime "$TMP/a")"
grep -qx 'monotonic: 1700000000.123456789' "$TMP/a" || fail "monotonic not the virtual clock"
grep -q '^fopen: failed' "$TMP/a" || fail "fopen succeeded without a file system"

# the random stream is SHA-256(seed || counter) in 32-byte blocks: check block 0
want=$(printf 's1\000\000\000\000\000\000\000\000' | openssl dgst -sha256 -r 2>/dev/null | cut -c1-64)
if [ -n "$want" ]; then
  case $ra in "random:$want"*) ;; *) fail "random block 0 is not SHA-256(seed||0): $ra vs $want" ;; esac
fi

g1=$("$AOX" run --max-memory 16M "$TMP/g.wasm") || fail "grow run 1"
g2=$("$AOX" run --max-memory 16M "$TMP/g.wasm") || fail "grow run 2"
[ "$g1" = "$g2" ] || fail "allocation under a cap differs between runs: $g1 / $g2"
n=$(echo "$g1" | sed -n 's/^allocated \([0-9]*\) MiB.*/\1/p')
[ -n "$n" ] && [ "$n" -ge 10 ] && [ "$n" -lt 16 ] || fail "allocated '$n' MiB under a 16 MiB cap"
[ $fails = 0 ] && echo "ok: deterministic ($g1)" && exit 0
exit 1
