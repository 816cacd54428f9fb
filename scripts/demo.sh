#!/usr/bin/env bash
# The demo: builds pgrouter, starts three local PostgreSQL 15 nodes (pg1 primary, pg2 and pg3
# streaming replicas of it), runs pgrouter in front of them with config/demo.yaml (admin console,
# HTTP endpoints, read-your-writes), prints the lines to use, and stays in the foreground until
# Ctrl-C; then it stops everything it started and removes its temp dir.
#
#   scripts/demo.sh               start (PGR_DEMO_PORT=6432: pgrouter's port,
#                                 PGR_DEMO_HTTP_PORT=9930: /healthz, /status, /metrics)
#   scripts/demo.sh kill NODE     in another terminal: stop one node of the running demo at once
#                                 (pg_ctl stop -m immediate, as a crash), to watch pgrouter route
#                                 around it
#   scripts/demo.sh restart NODE  start that node again on its port
#   scripts/demo.sh status        the nodes of the running demo, up or down
#
# The running demo is found by its port: it writes its temp dir's name to
# ${TMPDIR:-/tmp}/pgrouter-demo-<port>.dir and removes that file when it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PGR_DEMO_PORT:-6432}
HTTP_PORT=${PGR_DEMO_HTTP_PORT:-9930}
POINTER=${TMPDIR:-/tmp}/pgrouter-demo-$PORT.dir

# ---- verbs on a running demo -------------------------------------------------------------

running_dir() {
    local dir
    dir=$(cat "$POINTER" 2>/dev/null) || true
    if [ -z "$dir" ] || [ ! -f "$dir/cluster/nodes" ]; then
        echo "demo: no demo runs on port $PORT (start one with scripts/demo.sh;" \
            "PGR_DEMO_PORT picks another port)" >&2
        exit 1
    fi
    echo "$dir"
}

case ${1:-} in
    kill | restart)
        [ $# -eq 2 ] || { echo "usage: scripts/demo.sh $1 NODE   (pg1, pg2 or pg3)" >&2; exit 2; }
        exec tests/cluster.sh "$1" "$2" --dir "$(running_dir)/cluster"
        ;;
    status)
        exec tests/cluster.sh status --dir "$(running_dir)/cluster"
        ;;
    "") ;;
    *)
        echo "usage: scripts/demo.sh [kill NODE | restart NODE | status]" >&2
        exit 2
        ;;
esac

# ---- start -------------------------------------------------------------------------------

if [ -f "$POINTER" ] && [ -d "$(cat "$POINTER")" ]; then
    echo "demo: a demo already runs on port $PORT (its dir: $(cat "$POINTER")); stop it first," \
        "or set PGR_DEMO_PORT and PGR_DEMO_HTTP_PORT to run another" >&2
    exit 1
fi

scripts/bootstrap.sh
if [ ! -f build/default/build.ninja ]; then
    meson setup build/default >/dev/null
fi
if ! ninja -C build/default >/tmp/pgrouter-demo-build.log 2>&1; then
    cat /tmp/pgrouter-demo-build.log
    echo "demo: build failed"
    exit 1
fi

WORK=$(mktemp -d /tmp/pgrouter-demo.XXXXXX)
chmod 755 "$WORK" # the nodes run as postgres and live below it
PGR_PID=
cleanup() {
    trap - INT TERM EXIT
    if [ -n "$PGR_PID" ] && kill -0 "$PGR_PID" 2>/dev/null; then
        kill -TERM "$PGR_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$PGR_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PGR_PID" 2>/dev/null || true
    fi
    if [ -f "$WORK/cluster/nodes" ]; then
        tests/cluster.sh stop --dir "$WORK/cluster" || true
    fi
    if [ "$(cat "$POINTER" 2>/dev/null)" = "$WORK" ]; then
        rm -f "$POINTER"
    fi
    rm -rf "$WORK"
    echo "demo: stopped; removed $WORK"
}
trap cleanup EXIT
trap "cleanup; exit 130" INT TERM

echo "demo: working in $WORK"
tests/cluster.sh start 3 --replicas 2 --dir "$WORK/cluster" | tee "$WORK/nodes.txt"
# shellcheck disable=SC1091
. "$WORK/cluster/cluster.env"
sed -e "s/\b5501\b/$PG1_PORT/; s/\b5502\b/$PG2_PORT/; s/\b5503\b/$PG3_PORT/" \
    -e "s/\b6432\b/$PORT/; s/\b9930\b/$HTTP_PORT/" config/demo.yaml >"$WORK/demo.yaml"
echo "$WORK" >"$POINTER"

build/default/pgrouter -c "$WORK/demo.yaml" &
PGR_PID=$!
echo "demo: pgrouter pid $PGR_PID"
# The lines below are what the README shows (with the default ports).
echo "demo: connect with:  psql \"host=127.0.0.1 port=$PORT dbname=app user=app\""
echo "demo: admin console: psql \"host=127.0.0.1 port=$PORT dbname=pgrouter user=postgres\"   (SHOW NODES; SHOW HELP;)"
echo "demo: monitoring:    http://127.0.0.1:$HTTP_PORT/healthz  http://127.0.0.1:$HTTP_PORT/status  http://127.0.0.1:$HTTP_PORT/metrics"
echo "demo: failover:      scripts/demo.sh kill pg2   then   scripts/demo.sh restart pg2" \
    "(PGR_DEMO_PORT=$PORT in that shell if not the default)"
echo "demo: nodes directly: psql -h 127.0.0.1 -p $PG1_PORT -U app app   (pg2: $PG2_PORT, pg3: $PG3_PORT)"
echo "demo: press Ctrl-C to stop"
wait "$PGR_PID" || true
PGR_PID=
echo "demo: pgrouter exited; press Ctrl-C to stop the nodes"
while true; do sleep 1; done
