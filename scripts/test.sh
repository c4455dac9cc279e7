#!/usr/bin/env bash
# Builds aox and runs the whole test suite (CTest). This is the README's test command.
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
# Environment: AOX_WERROR=ON makes warnings errors (CI sets it); CTEST_ARGS adds ctest flags.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"

build="$root/build"
extra=()
if [ "${1:-}" = "--sanitize" ]; then
    build="$root/build-asan"
    extra+=(-DAOX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    shift
fi
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$root" -B "$build" -DAOX_WERROR="${AOX_WERROR:-OFF}" "${extra[@]}" >/dev/null
cmake --build "$build" -j"$jobs"
# shellcheck disable=SC2086
ctest --test-dir "$build" --output-on-failure -j"$jobs" ${CTEST_ARGS:-} "$@"
