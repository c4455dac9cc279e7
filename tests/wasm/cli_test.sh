#!/bin/sh
# cli_test.sh: black-box tests of `aox-wasm` (= `aox wasm`), one case per CTest.
# usage: cli_test.sh AOX_WASM MODULES_DIR CASE
# Modules are written in WAT and converted with wat2wasm at test time, so these
# tests need no C toolchain. Expected values are computed here, not by the engine.
set -u
AOX=$1; MODS=$2; CASE=$3
command -v wat2wasm >/dev/null 2>&1 || { echo "SKIP: wat2wasm not installed"; exit 77; }
TMP=$(mktemp -d /tmp/aox-clitest-XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
wat() { wat2wasm --enable-memory64 "$MODS/$1.wat" -o "$TMP/$1.wasm" || { echo "FAIL: wat2wasm $1"; exit 1; }; }
# run CMD... ; sets rc, out (stdout), err (stderr)
run() { "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; out=$(cat "$TMP/out"); err=$(cat "$TMP/err"); }
expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit status $rc, expected $1 (stderr: $err)"; }
expect_out() { [ "$out" = "$1" ] || fail "$2: stdout '$out', expected '$1'"; }
expect_err_has() { case $err in *"$1"*) ;; *) fail "$2: stderr lacks '$1': $err" ;; esac; }

case $CASE in
help)
  run "$AOX" --help
  expect_rc 0 "--help"
  for opt in run validate --fuel --max-memory --stats --invoke --env --stdin --seed --clock; do
    case $out in *"$opt"*) ;; *) fail "--help does not mention $opt" ;; esac
  done
  run "$AOX" run --help; expect_rc 0 "run --help"
  run "$AOX"; expect_rc 2 "no arguments"
  run "$AOX" frobnicate; expect_rc 2 "unknown command"; expect_err_has "unknown command" "unknown command"
  ;;
validate)
  wat hello
  run "$AOX" validate "$TMP/hello.wasm"; expect_rc 0 "validate good"; expect_out "ok" "validate good"
  printf '\000asm\001\000\000\000\001\005' > "$TMP/trunc.wasm"
  run "$AOX" validate "$TMP/trunc.wasm"; expect_rc 1 "validate truncated"
  case $out in *"offset"*) ;; *) fail "validate truncated: no offset in '$out'" ;; esac
  printf 'not wasm at all' > "$TMP/junk.wasm"
  run "$AOX" validate "$TMP/junk.wasm"; expect_rc 1 "validate junk"
  run "$AOX" validate "$TMP/missing.wasm"; expect_rc 1 "validate missing"; expect_err_has "cannot read" "validate missing"
  run "$AOX" validate; expect_rc 2 "validate without file"
  ;;
errors)
  wat hello
  run "$AOX" run "$TMP/missing.wasm"; expect_rc 1 "run missing"; expect_err_has "cannot read" "run missing"
  printf 'junk' > "$TMP/junk.wasm"
  run "$AOX" run "$TMP/junk.wasm"; expect_rc 1 "run junk"; expect_err_has "offset" "run junk"
  run "$AOX" run --fuel abc "$TMP/hello.wasm"; expect_rc 2 "bad --fuel"
  run "$AOX" run --max-memory 12Q "$TMP/hello.wasm"; expect_rc 2 "bad --max-memory"
  run "$AOX" run --bogus "$TMP/hello.wasm"; expect_rc 2 "unknown option"
  run "$AOX" run; expect_rc 2 "run without file"
  wat loop
  run "$AOX" run "$TMP/loop.wasm"; expect_rc 1 "no _start"; expect_err_has "_start" "no _start"
  run "$AOX" run --invoke nosuch "$TMP/loop.wasm"; expect_rc 2 "invoke unknown export"
  run "$AOX" run --invoke count "$TMP/loop.wasm"; expect_rc 2 "invoke wrong arity"
  # a start function that traps: the run fails as a trap, before _start
  printf '(module (func $s unreachable) (start $s) (func (export "_start")))' > "$TMP/st.wat"
  wat2wasm "$TMP/st.wat" -o "$TMP/st.wasm" || fail "wat2wasm st"
  run "$AOX" run "$TMP/st.wasm"; expect_rc 134 "trapping start"; expect_err_has "unreachable" "trapping start"
  # an import nobody provides: clear link error
  printf '(module (import "env" "nope" (func)) (func (export "_start")))' > "$TMP/imp.wat"
  wat2wasm "$TMP/imp.wat" -o "$TMP/imp.wasm" || fail "wat2wasm imp"
  run "$AOX" run "$TMP/imp.wasm"; expect_rc 1 "unknown import"; expect_err_has "nope" "unknown import"
  ;;
hello)
  wat hello
  run "$AOX" run "$TMP/hello.wasm"
  expect_rc 41 "hello (argc 1)"; expect_out "hello from wat" "hello"
  [ "$err" = "err" ] || fail "hello stderr '$err'"
  run "$AOX" run "$TMP/hello.wasm" a b c; expect_rc 44 "hello (argc 4)"
  # options after FILE belong to the guest
  run "$AOX" run "$TMP/hello.wasm" --fuel 1; expect_rc 43 "guest args that look like options"
  ;;
fuel)
  wat loop
  # sum 0..n-1 computed by the shell
  n=100000; want=$((n * (n - 1) / 2))
  run "$AOX" run --invoke count "$TMP/loop.wasm" $n; expect_rc 0 "count"; expect_out "$want" "count"
  run "$AOX" run --fuel 1000 --invoke count "$TMP/loop.wasm" $n
  expect_rc 134 "out of fuel"; expect_err_has "out of fuel" "out of fuel"
  # the fuel used is the same on every run, and grows with the work done
  run "$AOX" run --stats --invoke count "$TMP/loop.wasm" 1000
  f1=$(echo "$err" | sed -n 's/^stats: fuel used //p')
  run "$AOX" run --stats --invoke count "$TMP/loop.wasm" 1000
  f2=$(echo "$err" | sed -n 's/^stats: fuel used //p')
  run "$AOX" run --stats --invoke count "$TMP/loop.wasm" 2000
  f3=$(echo "$err" | sed -n 's/^stats: fuel used //p')
  [ -n "$f1" ] && [ "$f1" = "$f2" ] || fail "fuel not deterministic: '$f1' vs '$f2'"
  [ -n "$f3" ] && [ "$f3" -gt "$f1" ] 2>/dev/null || fail "fuel for 2000 ($f3) not above 1000 ($f1)"
  # the exact budget: f1 is enough, f1 - 1 is not
  run "$AOX" run --fuel "$f1" --invoke count "$TMP/loop.wasm" 1000; expect_rc 0 "fuel = used"
  run "$AOX" run --fuel $((f1 - 1)) --invoke count "$TMP/loop.wasm" 1000
  expect_rc 134 "fuel = used - 1"
  case $err in *"wall time"*) ;; *) ;; esac
  # a start function runs on the --fuel budget (it used to get none at all)
  wat start_loop
  n=1000; want=$((n * (n - 1) / 2))
  run "$AOX" run --fuel 1000000 --invoke get "$TMP/start_loop.wasm"
  expect_rc 0 "start function with fuel"; expect_out "$want" "start function with fuel"
  run "$AOX" run --stats --invoke get "$TMP/start_loop.wasm"
  fs=$(echo "$err" | sed -n 's/^stats: fuel used //p')
  [ -n "$fs" ] && [ "$fs" -gt "$n" ] 2>/dev/null || fail "start function fuel not counted: '$fs'"
  run "$AOX" run --fuel "$fs" --invoke get "$TMP/start_loop.wasm"; expect_rc 0 "start fuel = used"
  run "$AOX" run --fuel 10 --invoke get "$TMP/start_loop.wasm"
  expect_rc 134 "start function out of fuel"; expect_err_has "out of fuel" "start function out of fuel"
  ;;
max_memory)
  wat loop
  run "$AOX" run --invoke grow "$TMP/loop.wasm" 40; expect_rc 0 "grow unlimited"; expect_out 40 "grow unlimited"
  # limit 10 pages, 1 initial: 9 grows succeed
  run "$AOX" run --max-memory 10 --invoke grow "$TMP/loop.wasm" 100; expect_out 9 "grow to 10 pages"
  # 1M = 16 pages: 15 grows
  run "$AOX" run --max-memory 1M --invoke grow "$TMP/loop.wasm" 100; expect_out 15 "grow to 1M"
  run "$AOX" run --stats --max-memory 1M --invoke grow "$TMP/loop.wasm" 100
  expect_err_has "peak memory 16 pages" "peak memory"
  ;;
mem64)
  wat mem64
  n=5000; want=$(( (n - 1) * n * (2 * n - 1) / 6 ))
  run "$AOX" run --invoke fill_sum "$TMP/mem64.wasm" $n; expect_rc 0 "mem64 fill_sum"; expect_out "$want" "mem64 fill_sum"
  run "$AOX" run --invoke size "$TMP/mem64.wasm"; expect_out 4 "mem64 size"
  run "$AOX" run --invoke grow_to "$TMP/mem64.wasm" 8; expect_out 4 "mem64 grow to max"
  run "$AOX" run --invoke grow_to "$TMP/mem64.wasm" 9; expect_out -1 "mem64 grow past max"
  run "$AOX" run --invoke oob "$TMP/mem64.wasm"; expect_rc 134 "mem64 oob"
  expect_err_has "out of bounds memory access" "mem64 oob"
  ;;
wasi64)
  # a memory64 WASI command through the same WASI host as wasm32 ones
  wat hello64
  run "$AOX" run --argv0 prog "$TMP/hello64.wasm" alpha "b c"
  expect_rc 43 "wasi64 (argc 3)"
  got=$(tr '\000' '|' < "$TMP/out")
  [ "$got" = "prog|alpha|b c|" ] || fail "wasi64 stdout '$got'"
  run "$AOX" run --argv0 p "$TMP/hello64.wasm"; expect_rc 41 "wasi64 (argc 1)"
  ;;
*) echo "cli_test.sh: unknown case $CASE"; exit 2 ;;
esac
[ $fails = 0 ] && echo "ok: $CASE" && exit 0
exit 1
