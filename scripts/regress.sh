#!/usr/bin/env bash
# PostgreSQL's own regression suite through pgrouter, as Odyssey runs it through its pooler.
#
#   scripts/regress.sh [--out DIR] [--min MODE=N]... [--extra FILE] [session] [transaction]
#
# Runs `pg_regress --use-existing` with the parallel schedule of the installed server's version
# three ways, each against a fresh node from tests/cluster.sh: directly (the baseline), then
# through pgrouter in front of that one node in each pool mode asked for (default: both). A
# test is "equal to direct" when its output (pg_regress's results/TEST.out) through pgrouter is
# byte for byte the output it gave directly; a test that fails directly is compared the same
# way, by its output. Prints, per mode, `N of M equal to direct` and the tests that differ.
#
#   --out DIR        where the results go (default build/regress): DIR/direct and DIR/MODE hold
#                    pg_regress's results/, regression.diffs and log; DIR/MODE/differ/TEST.diff
#                    is the diff of TEST's direct output against its output through pgrouter,
#                    DIR/MODE/pgrouter.log pgrouter's log, DIR/MODE/differ.txt the list.
#   --min MODE=N     exit 1 when fewer than N tests of MODE are equal to direct
#   --extra FILE     append `regress-MODE: ok|FAILED` per mode (scripts/test.sh's summary)
#
# The suite comes from the Debian source package of the installed server (apt-get source; a
# deb-src entry is added by scripts/bootstrap.sh), unpacked once under PGR_REGRESS_CACHE
# (default /var/cache/pgrouter-regress, or build/regress-cache when that is not writable);
# regress.so, autoinc.so and refint.so are built there against the installed server's headers
# (postgresql-server-dev-15, pinned by bootstrap.sh to the server's version). PGR_BUILD_DIR
# (default build/default) is the pgrouter build; PGR_REGRESS_TIMEOUT (default 600 s) bounds each
# pg_regress run. pgrouter runs with trust auth, one node, `pool.max_size: 4`: the parallel
# groups of up to 20 tests share 4 server connections.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BUILD=${PGR_BUILD_DIR:-$ROOT/build/default}
TIMEOUT=${PGR_REGRESS_TIMEOUT:-600}
POOL_SIZE=4
OUT=$ROOT/build/regress
EXTRA=
MODES=()
declare -A MIN=()

die() { echo "regress: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --extra) EXTRA=$2; shift 2 ;;
        --min)
            [[ $2 =~ ^(session|transaction)=([0-9]+)$ ]] || die "--min takes MODE=N, got $2"
            MIN[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
            shift 2 ;;
        session|transaction) MODES+=("$1"); shift ;;
        *) die "usage: regress.sh [--out DIR] [--min MODE=N]... [--extra FILE] [session] [transaction]" ;;
    esac
done
[ ${#MODES[@]} -gt 0 ] || MODES=(session transaction)
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac

# A mode that cannot be run at all is reported as failed, so a broken setup is never silent.
fail_all() {
    local m
    echo "regress: $*" >&2
    if [ -n "$EXTRA" ]; then
        for m in "${MODES[@]}"; do echo "regress-$m: FAILED" >>"$EXTRA"; done
    fi
    exit 1
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- the suite and its C functions ----------------------------------------------------------

PG_CONFIG=$PGBIN/pg_config
[ -x "$PGBIN/postgres" ] || fail_all "no server at $PGBIN: run scripts/bootstrap.sh"
[ -x "$BUILD/pgrouter" ] || fail_all "no pgrouter at $BUILD/pgrouter: build it first"
INCSERVER=$("$PG_CONFIG" --includedir-server)
[ -f "$INCSERVER/postgres.h" ] || fail_all "no server headers in $INCSERVER: run scripts/bootstrap.sh"
PG_REGRESS=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
[ -x "$PG_REGRESS" ] || fail_all "no pg_regress at $PG_REGRESS"
PKG=$(dpkg-query -S "$PGBIN/postgres" 2>/dev/null | cut -d: -f1)
[ -n "$PKG" ] || fail_all "$PGBIN/postgres belongs to no Debian package"
VER=$(dpkg-query -W -f='${Version}' "$PKG")

CACHE=${PGR_REGRESS_CACHE:-/var/cache/pgrouter-regress}
if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
    CACHE=$ROOT/build/regress-cache
    mkdir -p "$CACHE"
fi
SUITE=$CACHE/$PKG-$VER
exec 8>"$CACHE/.lock"
flock 8
if [ ! -f "$SUITE/ready" ]; then
    echo "regress: fetching the regression suite of $PKG $VER (Debian source package)"
    rm -rf "$SUITE"
    tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
    # The installed version first; a point release the mirror no longer has falls back to the
    # one it serves (the same major version: the same suite, give or take a fix).
    if ! (cd "$tmp" && apt-get source -qq --download-only "$PKG=$VER" >/dev/null 2>"$tmp/apt.err"); then
        echo "regress: source of $PKG $VER not available, taking the mirror's $PKG" >&2
        (cd "$tmp" && rm -f ./*.dsc ./*.tar.* && apt-get source -qq --download-only "$PKG" \
            >/dev/null 2>>"$tmp/apt.err") || {
            cat "$tmp/apt.err" >&2
            rm -rf "$tmp"
            fail_all "apt-get source $PKG failed: is there a deb-src entry? run scripts/bootstrap.sh"
        }
    fi
    dsc=$(ls "$tmp"/*.dsc | head -n1)
    (cd "$tmp" && dpkg-source -x "$dsc" src >/dev/null 2>>"$tmp/apt.err") || {
        cat "$tmp/apt.err" >&2
        rm -rf "$tmp"
        fail_all "dpkg-source -x $dsc failed"
    }
    mkdir -p "$SUITE.new"
    cp -a "$tmp/src/src/test/regress" "$SUITE.new/regress"
    cp -a "$tmp/src/contrib/spi" "$SUITE.new/spi"
    basename "$dsc" .dsc >"$SUITE.new/source"
    rm -rf "$tmp"
    mv "$SUITE.new" "$SUITE"
    touch "$SUITE/ready"
fi
# The C functions the suite loads, built against the installed server's headers (as its
# GNUmakefile builds them: refint with REFINT_VERBOSE, whose NOTICEs the expected output has).
if [ ! -f "$SUITE/lib/ready" ]; then
    rm -rf "$SUITE/lib"
    mkdir -p "$SUITE/lib"
    cflags=($("$PG_CONFIG" --cflags) $("$PG_CONFIG" --cflags_sl) -I"$INCSERVER")
    for src in regress/regress.c spi/autoinc.c spi/refint.c; do
        so=$SUITE/lib/$(basename "$src" .c).so
        gcc "${cflags[@]}" -DREFINT_VERBOSE -shared -o "$so" "$SUITE/$src" \
            >"$SUITE/lib/build.log" 2>&1 || { cat "$SUITE/lib/build.log" >&2; fail_all "building $so failed"; }
    done
    touch "$SUITE/lib/ready"
fi
chmod -R a+rX "$CACHE" 2>/dev/null
flock -u 8

REGRESS=$SUITE/regress
SCHEDULE=$REGRESS/parallel_schedule
mapfile -t TESTS < <(awk '$1 == "test:" { for (i = 2; i <= NF; i++) print $i }' "$SCHEDULE")
M=${#TESTS[@]}
echo "regress: $("$PGBIN/postgres" --version), suite from $(cat "$SUITE/source"), parallel_schedule: $M tests"

# --- runs -----------------------------------------------------------------------------------

# Runs live in a temp dir the nodes' user can write (the suite's COPY TO and lo_export write
# into pg_regress's output dir from the server); the results are copied to OUT at the end.
WORK=$(mktemp -d /tmp/pgrouter-regress.XXXXXX)
chmod 755 "$WORK"
PGR_PID=
CLUSTER=
cleanup() {
    if [ -n "$PGR_PID" ]; then
        kill -TERM "$PGR_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$PGR_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PGR_PID" 2>/dev/null
        wait "$PGR_PID" 2>/dev/null
        PGR_PID=
    fi
    if [ -n "$CLUSTER" ]; then
        tests/cluster.sh stop --dir "$CLUSTER" >/dev/null 2>&1
        CLUSTER=
    fi
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# A fresh node with the database pg_regress would create without --use-existing, set up as
# its create_database() does.
start_node() { # name -> NODE_PORT
    CLUSTER=$WORK/cluster-$1
    tests/cluster.sh start 1 --dir "$CLUSTER" >/dev/null || return 1
    NODE_PORT=$(awk '$1 == "pg1" { print $2 }' "$CLUSTER/nodes")
    local q=(-X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$NODE_PORT" -U postgres)
    "$PGBIN/psql" "${q[@]}" -d postgres -c 'CREATE DATABASE "regression" TEMPLATE=template0' &&
        "$PGBIN/psql" "${q[@]}" -d regression <<'EOF'
ALTER DATABASE "regression" SET lc_messages TO 'C';
ALTER DATABASE "regression" SET lc_monetary TO 'C';
ALTER DATABASE "regression" SET lc_numeric TO 'C';
ALTER DATABASE "regression" SET lc_time TO 'C';
ALTER DATABASE "regression" SET bytea_output TO 'hex';
ALTER DATABASE "regression" SET timezone_abbreviations TO 'Default';
EOF
}

start_pgrouter() { # mode dir -> PGR_PORT
    local mode=$1 dir=$2 i
    PGR_PORT=$(free_port)
    cat >"$dir/pgrouter.yaml" <<EOF
listen: {host: 127.0.0.1, port: $PGR_PORT}
auth: {method: trust}
pool: {mode: $mode, max_size: $POOL_SIZE, acquire_timeout: 60s}
log: {level: info}
nodes:
  - {id: pg1, host: 127.0.0.1, port: $NODE_PORT}
EOF
    "$BUILD/pgrouter" -c "$dir/pgrouter.yaml" >"$dir/pgrouter.log" 2>&1 &
    PGR_PID=$!
    for i in $(seq 1 150); do
        "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PGR_PORT" -U postgres -d regression \
            -c 'SELECT 1' >/dev/null 2>&1 && return 0
        kill -0 "$PGR_PID" 2>/dev/null || break
        sleep 0.2
    done
    echo "regress: pgrouter did not serve on port $PGR_PORT:" >&2
    tail -20 "$dir/pgrouter.log" >&2
    return 1
}

# run name [mode]: the whole schedule against a fresh node, directly or through pgrouter.
run() {
    local name=$1 mode=${2:-} dir=$WORK/$1 port start rc
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    start_node "$name" || { cleanup; return 1; }
    port=$NODE_PORT
    if [ -n "$mode" ]; then
        start_pgrouter "$mode" "$dir" || { cleanup; return 1; }
        port=$PGR_PORT
    fi
    start=$SECONDS
    as_pg timeout -k 10 "$TIMEOUT" "$PG_REGRESS" --use-existing --host=127.0.0.1 --port="$port" \
        --user=postgres --dbname=regression --bindir="$PGBIN" --inputdir="$REGRESS" \
        --outputdir="$dir" --dlpath="$SUITE/lib" --schedule="$SCHEDULE" >"$dir/pg_regress.log" 2>&1
    rc=$?
    RUN_SECONDS=$((SECONDS - start))
    [ $rc = 124 ] || [ $rc = 137 ] && echo "regress: $name: pg_regress timed out after ${TIMEOUT}s" >&2
    RUN_PASSED=$(grep -cE '\.\.\. ok( |$)' "$dir/pg_regress.log")
    cleanup
    return 0
}

status=0
report() { # mode ok|FAILED
    [ -n "$EXTRA" ] && echo "regress-$1: $2" >>"$EXTRA"
    [ "$2" = ok ] || status=1
}

mkdir -p "$OUT"
rm -rf "${OUT:?}/direct" "$OUT/session" "$OUT/transaction"

echo "regress: direct (baseline) ..."
run direct || fail_all "the direct run could not start"
cp -a "$WORK/direct" "$OUT/direct"
echo "regress: direct: $RUN_PASSED of $M passed pg_regress (${RUN_SECONDS}s)"
[ -d "$WORK/direct/results" ] || fail_all "the direct run left no results (see $OUT/direct/pg_regress.log)"

for mode in "${MODES[@]}"; do
    echo "regress: $mode (pool.max_size $POOL_SIZE) ..."
    if ! run "$mode" "$mode"; then
        cp -a "$WORK/$mode" "$OUT/$mode" 2>/dev/null
        echo "regress: $mode: could not run"
        report "$mode" FAILED
        continue
    fi
    dir=$WORK/$mode
    mkdir -p "$dir/differ"
    equal=0
    differ=()
    for t in "${TESTS[@]}"; do
        d=$WORK/direct/results/$t.out
        m=$dir/results/$t.out
        if [ -f "$d" ] && [ -f "$m" ] && cmp -s "$d" "$m"; then
            equal=$((equal + 1))
        else
            differ+=("$t")
            diff -u --label "direct/$t.out" --label "$mode/$t.out" "$d" "$m" >"$dir/differ/$t.diff" 2>&1
        fi
    done
    printf '%s\n' "${differ[@]}" >"$dir/differ.txt"
    echo "$equal $M" >"$dir/equal.txt"
    cp -a "$dir" "$OUT/$mode"
    echo "regress: $mode: $equal of $M equal to direct (pg_regress: $RUN_PASSED passed, ${RUN_SECONDS}s)"
    if [ ${#differ[@]} -gt 0 ]; then
        echo "regress: $mode: differ: ${differ[*]} (diffs in $OUT/$mode/differ/)"
    fi
    if [ -n "${MIN[$mode]:-}" ] && [ "$equal" -lt "${MIN[$mode]}" ]; then
        echo "regress: $mode: FAILED: $equal is below the floor of ${MIN[$mode]}"
        report "$mode" FAILED
    else
        report "$mode" ok
    fi
done
exit $status
