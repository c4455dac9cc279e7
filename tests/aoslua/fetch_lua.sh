#!/usr/bin/env bash
# tests/aoslua/fetch_lua.sh DIR: puts Lua 5.3's C sources into DIR/lua-5.3.6/src,
# fetched from Debian's source package lua5.3 (bookworm) with apt-get, unless they
# are already there (the cache: a rebuild does not fetch again). Lua's source is
# never part of this repository. Exit 0 when DIR/lua-5.3.6/src/lua.h exists
# afterwards; otherwise a clear message on stderr and exit 1.
set -u
dir=$1
src="$dir/lua-5.3.6"
[ -f "$src/src/lua.h" ] && exit 0
mkdir -p "$dir/apt/lists/partial" || exit 1
# one fetch at a time (parallel builds share the cache)
exec 9>"$dir/.lock"
flock 9 || exit 1
[ -f "$src/src/lua.h" ] && exit 0
cat > "$dir/apt/src.sources" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/apt"
          -o "Dir::State::Lists=$dir/apt/lists" -o Debug::NoLocking=1)
log="$dir/apt/fetch.log"
fail() {
  echo "aoslua: could not fetch Lua 5.3's source from Debian ($1); see $log." >&2
  echo "aoslua: the aoslua tests need network access once (the source is then cached in $dir)." >&2
  exit 1
}
# three tries each, a few seconds apart: a mirror mid-sync or a dropped connection is
# passing, and a failed fetch fails the tests
tries() {
  local i
  for i in 1 2 3; do
    "$@" && return 0
    echo "aoslua: attempt $i of 3 failed: $*" >>"$log"
    [ "$i" = 3 ] || sleep $((i * 5))
  done
  return 1
}
: >"$log"
tries apt-get "${apt_opts[@]}" update >>"$log" 2>&1 || fail "apt-get update failed"
tries sh -c 'cd "$1" && shift && exec apt-get "$@" source --download-only lua5.3' sh \
  "$dir/apt" "${apt_opts[@]}" >>"$log" 2>&1 || fail "apt-get source failed"
tarball=$(ls "$dir"/apt/lua5.3_5.3.6.orig.tar.gz 2>/dev/null | head -1)
[ -n "$tarball" ] || fail "no lua5.3_5.3.6.orig.tar.gz in the download"
rm -rf "$dir/unpack" && mkdir -p "$dir/unpack" || exit 1
tar -xzf "$tarball" -C "$dir/unpack" || fail "cannot unpack $tarball"
[ -f "$dir/unpack/lua-5.3.6/src/lua.h" ] || fail "unexpected layout of $tarball"
mv "$dir/unpack/lua-5.3.6" "$src" && rmdir "$dir/unpack" || fail "cannot move the source"
exit 0
