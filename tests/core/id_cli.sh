#!/bin/sh
# tests/core/id_cli.sh: message IDs checked against coreutils. The canonical bytes
# are written by hand with printf; sha256sum and basenc compute the expected ID.
set -eu
tool="$1"
fail=0
expect() {  # expect JSON PRINTF-BYTES
    want=$(printf "$2" | sha256sum | cut -c1-64 | xxd -r -p | basenc --base64url | tr -d '=')
    got=$("$tool" "$1")
    if [ "$got" != "$want" ]; then
        echo "FAIL: $1: got $got want $want"; fail=1
    fi
}
expect '{}' 'M\000'
expect '{"Data":"hi"}' 'M\001\004dataB\002hi'
expect '{"a":1,"B":-2}' 'M\002\001aI\000\000\000\000\000\000\000\001\001bI\377\377\377\377\377\377\377\376'
expect '{"x":[0.5,{"y":"z"}]}' 'M\001\001xL\002F\077\340\000\000\000\000\000\000M\001\001yB\001z'
expect '{"r":{"@b64":"AAE"}}' 'M\001\001rB\002\000\001'
[ $fail = 0 ] && echo "core_id_cli: ok"
exit $fail
