#!/bin/sh
# tests/store/redis_run.sh: a throw-away redis-server for the store tests.
#
#   redis_run.sh run TEST [ARGS...]   start redis-server on a free loopback port in a
#                                     temp dir, run TEST ARGS... redis://127.0.0.1:PORT
#                                     (bounded by `timeout`), always stop redis after
#   redis_run.sh kill                 SIGKILL the server   } used by the test through
#   redis_run.sh start                start it again       } $AOX_REDIS_CTL, with
#   redis_run.sh stop | cont          SIGSTOP / SIGCONT it } AOX_REDIS_DIR/_PORT set
# The server runs with the configuration aox requires for durable commits:
#   --appendonly yes --appendfsync always (and --save "": no RDB snapshots).
set -u
self="$0"

start_server() {   # dir, port; 0 when it answers PING
    redis-server --port "$2" --bind 127.0.0.1 --save "" --appendonly yes \
        --appendfsync always --dir "$1" --databases 64 --daemonize no \
        >>"$1/redis.log" 2>&1 </dev/null &
    echo $! >"$1/redis.pid"
    n=0
    while [ "$n" -lt 100 ]; do      # up to 5 s
        if [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$2" ping 2>/dev/null)" = "PONG" ]; then
            return 0
        fi
        kill -0 "$(cat "$1/redis.pid")" 2>/dev/null || return 1   # e.g. port taken
        sleep 0.05
        n=$((n + 1))
    done
    kill -9 "$(cat "$1/redis.pid")" 2>/dev/null
    return 1
}

kill_server() {   # dir
    [ -f "$1/redis.pid" ] || return 0
    pid=$(cat "$1/redis.pid")
    kill -9 "$pid" 2>/dev/null
    kill -s CONT "$pid" 2>/dev/null
    n=0
    while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    rm -f "$1/redis.pid"
}

case "${1:-}" in
stop|cont)
    sig=STOP
    [ "$1" = cont ] && sig=CONT
    kill -s "$sig" "$(cat "$AOX_REDIS_DIR/redis.pid")"
    exit $? ;;
kill)
    kill_server "$AOX_REDIS_DIR"
    exit 0 ;;
start)
    # the old process may take a moment to release the port
    n=0
    while [ "$n" -lt 20 ]; do
        start_server "$AOX_REDIS_DIR" "$AOX_REDIS_PORT" && exit 0
        sleep 0.1
        n=$((n + 1))
    done
    exit 1 ;;
run)
    shift ;;
*)
    echo "usage: redis_run.sh run TEST [ARGS...] | kill | start | stop | cont" >&2
    exit 2 ;;
esac

command -v redis-server >/dev/null 2>&1 || { echo "redis-server not installed" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/aox-redis-XXXXXX") || exit 1
cleanup() {
    kill_server "$dir"
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A free port: nothing answers on it and redis-server can bind it (a race with
# another program is caught by the bind failure: then try the next one).
base=$(( 20000 + ($$ * 7) % 30000 ))
port=""
i=0
while [ "$i" -lt 40 ]; do
    p=$((base + i * 13))
    i=$((i + 1))
    timeout 2 redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 && continue
    if start_server "$dir" "$p"; then
        port=$p
        break
    fi
done
[ -n "$port" ] || { echo "could not start redis-server" >&2; cat "$dir/redis.log" >&2; exit 1; }

AOX_REDIS_DIR="$dir" AOX_REDIS_PORT="$port" AOX_REDIS_CTL="sh $self" \
    timeout 100 "$@" "redis://127.0.0.1:$port"
rc=$?
[ "$rc" -eq 0 ] || tail -5 "$dir/redis.log" >&2
exit $rc
