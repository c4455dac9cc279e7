#!/usr/bin/env bash
# Runs a node script of the aoconnect harness with the pinned npm packages.
#   run.sh WORK_DIR SCRIPT.mjs [ARGS...]
# WORK_DIR (shared by build dirs: CMake passes ~/.cache/aox/aoconnect-npm) gets
# package.json + package-lock.json from this folder and `npm ci`
# (once per lockfile; serialised with flock so parallel tests share it), then
# SCRIPT (a file of this folder) runs there with node.
# Exit 77 (CTest SKIP_RETURN_CODE) only when node or npm is not installed: a failing
# `npm ci` (offline, registry error) is a test FAILURE, not a skip. All .mjs files of
# this folder are copied next to node_modules so that their imports resolve.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1; script=$2; shift 2

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node/npm not installed; the aoconnect harness needs them" >&2
    exit 77
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
lockhash=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
(
    flock 9
    if [ ! -f "$work/.installed-$lockhash" ]; then
        rm -f "$work"/.installed-*
        cp "$here/package.json" "$here/package-lock.json" "$work/"
        # --ignore-scripts: keccak/secp256k1 native builds are optional (JS fallbacks)
        if ! (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2); then
            echo "FAIL: npm ci failed in $work (network or registry problem?)" >&2
            exit 1
        fi
        touch "$work/.installed-$lockhash"
    fi
    # the scripts run from here so that their imports resolve; copy only what
    # changed, under the lock, so a parallel test never reads a half-written file
    for f in "$here"/*.mjs "$here"/*.c; do
        cmp -s "$f" "$work/$(basename "$f")" || cp "$f" "$work/"
    done
) 9>"$work/.lock"

exec node "$work/$script" "$@"
