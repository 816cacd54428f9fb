#!/usr/bin/env bash
# The demo: builds pgrouter, starts three local PostgreSQL 15 nodes (pg1 primary, pg2 and pg3
# streaming replicas of it), runs pgrouter in front of them with config/demo.yaml, prints the psql
# line to use, and stays in the foreground until Ctrl-C; then it stops everything it started and
# removes its temp dir.
#
#   scripts/demo.sh            PGR_DEMO_PORT=6432 by default (the port pgrouter listens on)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${PGR_DEMO_PORT:-6432}

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
    rm -rf "$WORK"
    echo "demo: stopped; removed $WORK"
}
trap cleanup EXIT
trap "cleanup; exit 130" INT TERM

echo "demo: working in $WORK"
tests/cluster.sh start 3 --replicas 2 --dir "$WORK/cluster" | tee "$WORK/nodes.txt"
# shellcheck disable=SC1091
. "$WORK/cluster/cluster.env"
sed -e "s/\b5501\b/$PG1_PORT/; s/\b5502\b/$PG2_PORT/; s/\b5503\b/$PG3_PORT/; s/\b6432\b/$PORT/" \
    config/demo.yaml >"$WORK/demo.yaml"

build/default/pgrouter -c "$WORK/demo.yaml" &
PGR_PID=$!
echo "demo: pgrouter pid $PGR_PID"
echo "demo: connect with:  psql \"host=127.0.0.1 port=$PORT dbname=app user=app\""
echo "demo: nodes directly: psql -h 127.0.0.1 -p $PG1_PORT -U app app   (pg2: $PG2_PORT, pg3: $PG3_PORT)"
echo "demo: press Ctrl-C to stop"
wait "$PGR_PID" || true
PGR_PID=
echo "demo: pgrouter exited; press Ctrl-C to stop the nodes"
while true; do sleep 1; done
