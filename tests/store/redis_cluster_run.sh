#!/bin/sh
# tests/store/redis_cluster_run.sh: a throw-away Redis Cluster (3 masters, no
# replicas) on loopback for the store tests.
#
#   redis_cluster_run.sh TEST [ARGS...]   start 3 cluster-enabled redis-servers on free
#                                         loopback ports, join them with
#                                         `redis-cli --cluster create`, run
#                                         TEST ARGS... 'redis://127.0.0.1:P1?cluster=1'
#                                         (bounded by `timeout`) with
#                                         AOX_REDIS_PORTS="P1 P2 P3", always stop them
#   redis_cluster_run.sh migrating SLOT   (for the test, through $AOX_REDIS_CTL) mark
#                                         SLOT as migrating from its owner to another
#                                         master (keys stay: new keys get ASK)
#   redis_cluster_run.sh keys SLOT        move a migrating SLOT's keys (slot not handed
#                                         over: the old owner answers ASK)
#   redis_cluster_run.sh finish SLOT      move SLOT's keys and hand the slot over
#   redis_cluster_run.sh move SLOT        both
# The servers run with the configuration aox requires for durable commits.
set -u
self="$0"

owner_of() {   # slot -> "id port" of the master serving it
    redis-cli -h 127.0.0.1 -p "$first" cluster nodes | tr -d '\r' | awk -v s="$1" '
        { for (i = 9; i <= NF; i++) {
              f = $i
              if (f ~ /^\[/) continue
              n = split(f, r, "-"); lo = r[1]; hi = (n > 1) ? r[2] : r[1]
              if (s + 0 >= lo + 0 && s + 0 <= hi + 0) {
                  split($2, a, "@"); split(a[1], b, ":"); print $1, b[2]; exit
              } } }'
}

other_master() {   # id -> "id port" of another master
    redis-cli -h 127.0.0.1 -p "$first" cluster nodes | tr -d '\r' | awk -v not="$1" '
        $3 ~ /master/ && $1 != not { split($2, a, "@"); split(a[1], b, ":"); print $1, b[2]; exit }'
}

case "${1:-}" in
migrating|keys|finish|move)
    first=$(echo $AOX_REDIS_PORTS | cut -d' ' -f1)
    set -e
    if [ "$1" = finish ] || [ "$1" = keys ]; then
        src=$(cat "$AOX_REDIS_CLUSTER_DIR/mig-$2")
    else
        src=$(owner_of "$2")
        dst=$(other_master "${src% *}")
        redis-cli -p "${dst#* }" cluster setslot "$2" importing "${src% *}" >/dev/null
        redis-cli -p "${src#* }" cluster setslot "$2" migrating "${dst% *}" >/dev/null
        echo "$src" >"$AOX_REDIS_CLUSTER_DIR/mig-$2"
        echo "$dst" >>"$AOX_REDIS_CLUSTER_DIR/mig-$2"
        [ "$1" = migrating ] && exit 0
        src=$(cat "$AOX_REDIS_CLUSTER_DIR/mig-$2")
    fi
    dst=$(echo "$src" | sed -n 2p)
    src=$(echo "$src" | sed -n 1p)
    while :; do
        keys=$(redis-cli -p "${src#* }" cluster getkeysinslot "$2" 100 | tr -d '\r')
        [ -n "$keys" ] || break
        # shellcheck disable=SC2086
        redis-cli -p "${src#* }" migrate 127.0.0.1 "${dst#* }" "" 0 5000 keys $keys >/dev/null
    done
    [ "$1" = keys ] && exit 0
    for p in "${dst#* }" "${src#* }" $AOX_REDIS_PORTS; do   # the new owner first
        redis-cli -p "$p" cluster setslot "$2" node "${dst% *}" >/dev/null
    done
    exit 0 ;;
esac

command -v redis-server >/dev/null 2>&1 || { echo "redis-server not installed" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/aox-rcluster-XXXXXX") || exit 1
pids=""
cleanup() {
    for p in $pids; do
        kill -9 "$p" 2>/dev/null
        kill -s CONT "$p" 2>/dev/null
    done
    for p in $pids; do
        n=0
        while kill -0 "$p" 2>/dev/null && [ "$n" -lt 100 ]; do
            sleep 0.05
            n=$((n + 1))
        done
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

start_server() {   # port; 0 when it answers PING
    mkdir -p "$dir/$1"
    redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly yes \
        --appendfsync always --dir "$dir/$1" --cluster-enabled yes \
        --cluster-config-file "$dir/$1/nodes.conf" --cluster-node-timeout 5000 \
        --daemonize no >>"$dir/$1/redis.log" 2>&1 </dev/null &
    pid=$!
    n=0
    while [ "$n" -lt 100 ]; do      # up to 5 s
        if [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; then
            pids="$pids $pid"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1   # e.g. port taken
        sleep 0.05
        n=$((n + 1))
    done
    kill -9 "$pid" 2>/dev/null
    return 1
}

# Free ports: nothing answers and redis-server can bind it (the cluster bus uses
# port + 10000, so candidates stay below 55535).
base=$(( 20000 + ($$ * 11) % 25000 ))
ports=""
i=0
count=0
while [ "$i" -lt 60 ] && [ "$count" -lt 3 ]; do
    p=$((base + i * 17))
    i=$((i + 1))
    timeout 2 redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 && continue
    timeout 2 redis-cli -h 127.0.0.1 -p $((p + 10000)) ping >/dev/null 2>&1 && continue
    if start_server "$p"; then
        ports="$ports $p"
        count=$((count + 1))
    fi
done
[ "$count" -eq 3 ] || { echo "could not start 3 redis-servers" >&2; exit 1; }
addrs=""
for p in $ports; do addrs="$addrs 127.0.0.1:$p"; done
# shellcheck disable=SC2086
timeout 30 redis-cli --cluster create $addrs --cluster-replicas 0 --cluster-yes \
    >"$dir/create.log" 2>&1 || { cat "$dir/create.log" >&2; exit 1; }
n=0
for p in $ports; do                 # every node sees the whole cluster as ok
    while [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null \
               | tr -d '\r' | grep '^cluster_state:')" != "cluster_state:ok" ]; do
        n=$((n + 1))
        [ "$n" -lt 200 ] || { echo "cluster did not become ok" >&2; exit 1; }
        sleep 0.05
    done
done
first=$(echo $ports | cut -d' ' -f1)
# shellcheck disable=SC2086
AOX_REDIS_PORTS="$(echo $ports)" AOX_REDIS_CLUSTER_DIR="$dir" AOX_REDIS_CTL="sh $self" \
    timeout 100 "$@" "redis://127.0.0.1:$first?cluster=1"
rc=$?
if [ "$rc" -ne 0 ]; then
    for p in $ports; do tail -3 "$dir/$p/redis.log" >&2; done
fi
exit $rc
