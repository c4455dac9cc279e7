#!/usr/bin/env bash
# tests/aoslua/build.sh EMCC SRCDIR CACHEDIR OUT.wasm [sjlj|wasm]: builds aoslua.wasm,
# Lua 5.3 (fetched into CACHEDIR by fetch_lua.sh, cached there) + glue.c +
# process.lua (embedded as a C string), with Debian's emcc and its frozen library
# cache. sjlj: Lua's setjmp/longjmp through emscripten's invoke_* trampolines (the
# default); wasm: -fwasm-exceptions -sSUPPORT_LONGJMP=wasm (wasm exceptions).
# When the source cannot be fetched, writes OUT.wasm.fetch-failed with the reason and
# exits 0, so the rest of the tree still builds; the aoslua tests then fail loudly.
set -euo pipefail
emcc=$1 here=$2 cache=$3 out=$4 mode=${5:-sjlj}
mkdir -p "$(dirname "$out")"
rm -f "$out.fetch-failed"
if ! msg=$(bash "$here/fetch_lua.sh" "$cache" 2>&1); then
  echo "$msg" >&2
  echo "$msg" > "$out.fetch-failed"
  exit 0
fi
lua="$cache/lua-5.3.6/src"
gen=$(dirname "$out")/gen
mkdir -p "$gen"
# process.lua as a C array (od: POSIX, no xxd needed)
{
  echo "/* generated from tests/aoslua/process.lua by tests/aoslua/build.sh */"
  echo "static const char aoslua_script[] = {"
  od -An -v -tx1 "$here/process.lua" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
  echo "0};"
  echo "static const size_t aoslua_script_len = sizeof aoslua_script - 1;"
} > "$gen/aoslua_script.h.tmp"
mv "$gen/aoslua_script.h.tmp" "$gen/aoslua_script.h"
srcs=()
for f in "$lua"/l*.c; do
  case $(basename "$f") in lua.c|luac.c) ;; *) srcs+=("$f") ;; esac
done
# compiled with -O2; linked with -O1 (at -O2 emcc runs a JS optimizer that needs
# node's acorn, which Debian's emscripten does not ship)
cflags=(-O2 "-Dluai_makeseed()=0x5eedu" -w)
flags=(-O1 -sEXPORTED_FUNCTIONS=_handle,_malloc,_free -sALLOW_MEMORY_GROWTH=1
       -sTOTAL_STACK=1MB -sINITIAL_MEMORY=4MB)
case $mode in
  sjlj) ;;
  wasm) cflags+=(-fwasm-exceptions -sSUPPORT_LONGJMP=wasm)
        flags+=(-fwasm-exceptions -sSUPPORT_LONGJMP=wasm) ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
objs="$gen/obj-$mode"
mkdir -p "$objs"
o=()
for f in "$here/glue.c" "${srcs[@]}"; do
  obj="$objs/$(basename "${f%.c}").o"
  o+=("$obj")
  "$emcc" "${cflags[@]}" -I"$lua" -I"$gen" -c "$f" -o "$obj" &
  [ "$(jobs -rp | wc -l)" -lt 2 ] || wait -n
done
wait
js="${out%.wasm}.js"
"$emcc" "${flags[@]}" "${o[@]}" -o "$js"
rm -f "$js"
