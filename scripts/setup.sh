#!/usr/bin/env bash
# Installs the Debian packages aox needs to build, run and test, when they are
# missing. Safe to run again: it does nothing when everything is present.
# Usage: scripts/setup.sh [--runtime]   (--runtime: only what `aox serve` needs)
set -euo pipefail

runtime_pkgs=(liblmdb0 libmicrohttpd12 libcurl4 libssl3 libjansson4 liblua5.3-0
              libzstd1 libhiredis0.14 libseccomp2)
build_pkgs=(build-essential cmake pkg-config liblmdb-dev libmicrohttpd-dev
            libcurl4-openssl-dev libssl-dev libjansson-dev liblua5.3-dev
            libzstd-dev libhiredis-dev libseccomp-dev)
test_pkgs=(wabt redis-server clang-14 lld-14 wasi-libc libclang-rt-14-dev
           libclang-rt-14-dev-wasm32 emscripten curl python3)

want=("${build_pkgs[@]}")
if [ "${1:-}" != "--runtime" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Node.js and npm (for the aoconnect client tests) may come from outside Debian's
# nodejs package, whose npm conflicts with them: only ask for them when absent.
if [ "${1:-}" != "--runtime" ] && ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "aox setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
: "${runtime_pkgs[*]}"
