#!/usr/bin/env bash
# Benchmarks pgrouter side by side with direct PostgreSQL and PgBouncer (issue 8); see
# bench/README.md for the workloads and how to read the numbers.
#
#   bench/run.sh [--quick] [--rounds N] [--duration S] [--only W[,W...]] [--pool-size N]
#                [--scale N] [--profile[=simple|extended|prepared]]
#
#   --quick        under 3 minutes: 3 rounds of 1 s, 1,000 idle clients only (checks that
#                  everything runs; its numbers are rough)
#   (default)      full run, under 20 minutes: 5 rounds of 7 s, 1,000 and 10,000 idle clients
#   --only W       workloads by number (1-7) or name: select, tpcb, churn, idle, large, router,
#                  micro, or one variant (select-simple, select-extended, select-prepared,
#                  select-c1, tpcb, churn, large, broadcast)
#   --profile      afterwards, perf record (call graphs) on pgrouter under pgbench -S -c 32
#                  in the given protocol mode (default simple)
#
# Needs what scripts/bootstrap.sh installs. Builds pgrouter in $PGR_BENCH_BUILD (default
# build-bench, release) if needed. Starts its own node, pgrouter and PgBouncer on free
# 127.0.0.1 ports in a temp dir; the trap below stops every one of them by pid on exit or
# Ctrl-C and removes the dir. Results: bench/results/<date>/results.md, results.csv, rounds.csv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${PGR_BENCH_BUILD:-$ROOT/build-bench}
PY=/usr/bin/python3

for tool in pgbench psql pgbouncer meson ninja; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing; run scripts/bootstrap.sh" >&2; exit 1; }
done

if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null ||
        meson setup --wipe "$BUILD" "$ROOT" --buildtype=debugoptimized >/dev/null
fi
ninja -C "$BUILD" -j2 pgrouter bench/codec_bench >/dev/null
# The classifier microbenchmark is optional: built when its target exists.
ninja -C "$BUILD" -j2 bench/classify_bench >/dev/null 2>&1 || true

# 10,000 idle clients need the descriptors (bench.py skips that size and says so if not).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/pgr-bench.XXXXXX)
chmod 755 "$TMP"
BENCH_PID=

cleanup() {
    trap - EXIT INT TERM HUP
    # bench.py stops what it started; this is the backstop for anything it could not.
    if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true
        for _ in $(seq 1 600); do kill -0 "$BENCH_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BENCH_PID" 2>/dev/null || true
    fi
    if [ -f "$TMP/pids" ]; then
        while read -r pid comm; do
            # Only a process that is still the one we started (same command name).
            if [ -r "/proc/$pid/comm" ] && [[ "$comm" == "$(cat "/proc/$pid/comm")"* ||
                                              "$(cat "/proc/$pid/comm")" == "$comm"* ]]; then
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done <"$TMP/pids"
    fi
    if [ -f "$TMP/cluster/nodes" ]; then
        "$ROOT/tests/cluster.sh" stop --dir "$TMP/cluster" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# In the background and waited for, so that the INT/TERM trap runs as soon as a signal arrives.
"$PY" "$ROOT/bench/bench.py" --tmp "$TMP" --build "$BUILD" "$@" &
BENCH_PID=$!
wait "$BENCH_PID"
rc=$?
BENCH_PID=
exit $rc
