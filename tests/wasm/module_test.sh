#!/bin/sh
# module_test.sh: build a C/C++ test program for wasm at test time, run it with
# `aox-wasm run`, and compare stdout and exit status with the same program built
# natively with gcc/g++ (the independent oracle).
#
# usage: module_test.sh AOX_WASM KIND SOURCE [--stdin FILE] [--env K=V]... [-- ARGS...]
#   KIND  clang        clang-14 --target=wasm32-wasi (wasi-libc sysroot)
#         emcc         emscripten C, -sSTANDALONE_WASM
#         emcc-sjlj    emscripten C with setjmp/longjmp as wasm exceptions
#                      (-sSUPPORT_LONGJMP=wasm)
#         emcc-sjlj-js emscripten C with JS-style setjmp/longjmp (invoke_* imports,
#                      served by aox's emscripten shim)
#         em++-eh      emscripten C++ with -fwasm-exceptions
# Exit: 0 same output and status; 1 mismatch or build failure; 77 toolchain absent.
set -u
AOX_WASM=$1; KIND=$2; SRC=$3; shift 3
STDIN=/dev/null
ENVS=""
while [ $# -gt 0 ]; do
  case $1 in
    --stdin) STDIN=$2; shift 2 ;;
    --env) ENVS="$ENVS $2"; shift 2 ;;
    --) shift; break ;;
    *) echo "module_test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

SYSROOT=${AOX_WASI_SYSROOT:-/usr}
skip() { echo "SKIP: $*"; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 not installed"; }

TMP=$(mktemp -d /tmp/aox-modtest-XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
base=$(basename "$SRC")

case $KIND in
  clang)
    need clang-14; need gcc
    [ -f "$SYSROOT/lib/wasm32-wasi/libc.a" ] || skip "wasi-libc sysroot not found under $SYSROOT"
    WASMCC="clang-14 --target=wasm32-wasi --sysroot=$SYSROOT -O2 -fuse-ld=lld"
    NATIVECC="gcc -O2" ;;
  emcc|emcc-sjlj|emcc-sjlj-js)
    need emcc; need gcc
    WASMCC="emcc -O2 -sSTANDALONE_WASM"
    [ "$KIND" = emcc-sjlj ] && WASMCC="$WASMCC -sSUPPORT_LONGJMP=wasm"
    NATIVECC="gcc -O2" ;;
  em++-eh)
    need em++; need g++
    WASMCC="em++ -O2 -sSTANDALONE_WASM -fwasm-exceptions"
    NATIVECC="g++ -O2" ;;
  *) echo "module_test.sh: unknown kind $KIND" >&2; exit 2 ;;
esac

# Compiled modules are cached by (compiler command, compiler binary, source bytes):
# emscripten takes seconds per compile, and the same module serves the normal and
# the sanitizer build. AOX_WASM_MODULE_CACHE=off disables the cache.
CACHE=${AOX_WASM_MODULE_CACHE:-${TMPDIR:-/tmp}/aox-wasm-module-cache}
cc_bin=$(command -v ${WASMCC%% *})
key=$( { echo "$WASMCC"; ls -lL "$cc_bin"; cat "$SRC"; } | sha256sum | cut -c1-32)
if [ "$CACHE" != off ] && [ -f "$CACHE/$key.wasm" ]; then
  cp "$CACHE/$key.wasm" "$TMP/t.wasm"
else
  if ! $WASMCC "$SRC" -o "$TMP/t.wasm" -lm > "$TMP/build.log" 2>&1; then
    echo "FAIL: wasm build of $base failed:"; cat "$TMP/build.log"; exit 1
  fi
  if [ "$CACHE" != off ] && mkdir -p "$CACHE" 2>/dev/null; then
    cp "$TMP/t.wasm" "$CACHE/$key.wasm.$$" && mv -f "$CACHE/$key.wasm.$$" "$CACHE/$key.wasm"
  fi
fi
if ! $NATIVECC "$SRC" -o "$TMP/t.native" -lm > "$TMP/nbuild.log" 2>&1; then
  echo "FAIL: native build of $base failed:"; cat "$TMP/nbuild.log"; exit 1
fi

envargs=""
for kv in $ENVS; do envargs="$envargs --env $kv"; done

# shellcheck disable=SC2086
env -i $ENVS "$TMP/t.native" "$@" < "$STDIN" > "$TMP/native.out" 2> "$TMP/native.err"
native_rc=$?
# shellcheck disable=SC2086
"$AOX_WASM" run $envargs --stdin "$STDIN" "$TMP/t.wasm" "$@" > "$TMP/wasm.out" 2> "$TMP/wasm.err"
wasm_rc=$?

ok=1
if ! cmp -s "$TMP/native.out" "$TMP/wasm.out"; then
  echo "FAIL: stdout differs (native vs wasm):"
  diff "$TMP/native.out" "$TMP/wasm.out" | head -40
  ok=0
fi
if [ "$native_rc" != "$wasm_rc" ]; then
  echo "FAIL: exit status native=$native_rc wasm=$wasm_rc"
  ok=0
fi
if [ $ok = 0 ]; then
  echo "--- wasm stderr:"; head -20 "$TMP/wasm.err"
  exit 1
fi
echo "ok: $base ($KIND): $(wc -l < "$TMP/wasm.out") lines of stdout match, exit status $wasm_rc"
exit 0
