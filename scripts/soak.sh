#!/usr/bin/env bash
# A soak run (not part of CI): mixed load through one pgrouter built with ASan and UBSan, for a
# while, with a node killed and restarted on a schedule; then whether its memory and file
# descriptors grew, how many errors the clients saw, and whether the sanitizers said anything.
#
#   scripts/soak.sh [--minutes M] [--kill-every S] [--build DIR]
#
#   --minutes M       how long the load runs (default 10)
#   --kill-every S    kill one replica (pg3) every S seconds and start it again 10 s later
#                     (default 120)
#   --build DIR       an ASan build dir (default build/asan, set up if missing)
#
# The load, in parallel for the whole run: pgbench -S in turn in simple, extended and prepared
# mode (-c 8), TPC-B-like writes (-c 2), connection churn (-C -S -c 2), and a broadcast count
# every 0.2 s. RSS and open fds of pgrouter are sampled every 5 s into samples.csv; the slope is
# fitted over the second half (after the pools and caches warmed up). Everything runs in one temp
# dir on 127.0.0.1 and is stopped by pid at the end (KEEP=1 keeps the dir).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10 kill_every=120 bdir=build/asan
while [ $# -gt 0 ]; do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --kill-every) kill_every=$2; shift 2 ;;
        --build) bdir=$2; shift 2 ;;
        *) echo "usage: scripts/soak.sh [--minutes M] [--kill-every S] [--build DIR]" >&2; exit 2 ;;
    esac
done
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ ! -f "$bdir/build.ninja" ]; then
    meson setup "$bdir" -Dsanitize=address,undefined >/dev/null
fi
ninja -C "$bdir" pgrouter >"/tmp/pgr-soak-build.log" 2>&1 || { tail -20 /tmp/pgr-soak-build.log >&2; exit 1; }

tmp=$(mktemp -d /tmp/pgr-soak-XXXXXX)
chmod 755 "$tmp"
pids=()
router_pid=
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$router_pid" ] && kill -TERM "$router_pid" 2>/dev/null && wait "$router_pid" 2>/dev/null
    tests/cluster.sh stop --dir "$tmp/cluster" >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "soak: starting 3 nodes (pg2, pg3 replicas of pg1)" >&2
mkdir -p "$tmp/cluster"
tests/cluster.sh start 3 --replicas 2 --dir "$tmp/cluster" >"$tmp/nodes.txt"
port_of() { awk -v n="$1" '$2 == n { print $4 }' "$tmp/nodes.txt"; }

port=$(free_port)
cat >"$tmp/pgrouter.yaml" <<EOF
listen: {host: 127.0.0.1, port: $port}
auth: {method: trust}
pool: {mode: transaction, max_size: 16, acquire_timeout: 10s}
health: {interval: 500ms, timeout: 2s}
broadcast: {timeout: 10s}
log: {level: warning}
nodes:
  - {id: pg1, host: 127.0.0.1, port: $(port_of pg1)}
  - {id: pg2, host: 127.0.0.1, port: $(port_of pg2)}
  - {id: pg3, host: 127.0.0.1, port: $(port_of pg3)}
EOF
ASAN_OPTIONS=detect_leaks=1:log_path="$tmp/asan" "$bdir/pgrouter" -c "$tmp/pgrouter.yaml" \
    >"$tmp/pgrouter.log" 2>&1 &
router_pid=$!
for _ in $(seq 100); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.1
done
"$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U app -i -q -s 2 app >"$tmp/init.log" 2>&1
sleep 2 # the replicas replay the tables

secs=$((minutes * 60))
end=$((SECONDS + secs))
bench() { # name, then pgbench arguments: runs in 30 s pieces until the end
    local name=$1; shift
    while [ $SECONDS -lt $end ]; do
        local t=$((end - SECONDS)); [ $t -gt 30 ] && t=30
        [ $t -lt 2 ] && break
        "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U app -n -T "$t" "$@" app >>"$tmp/$name.log" 2>&1 || true
    done
}
selects() {
    while [ $SECONDS -lt $end ]; do
        for m in simple extended prepared; do
            local t=$((end - SECONDS)); [ $t -gt 30 ] && t=30
            [ $t -lt 2 ] && return
            "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U app -n -S -M "$m" -c 8 -j 2 -T "$t" app \
                >>"$tmp/select.log" 2>&1 || true
        done
    done
}
broadcasts() {
    local ok=0 failed=0
    while [ $SECONDS -lt $end ]; do
        if "$PGBIN/psql" -X -q -A -t "host=127.0.0.1 port=$port user=app dbname=app" \
            -c "/* pgrouter: broadcast */ SELECT count(*) FROM pgbench_branches" >/dev/null 2>>"$tmp/broadcast.err"; then
            ok=$((ok + 1))
        else
            failed=$((failed + 1))
        fi
        sleep 0.2
    done
    echo "$ok $failed" >"$tmp/broadcast.count"
}
faults() {
    local next=$((SECONDS + kill_every))
    while [ $SECONDS -lt $end ]; do
        if [ $SECONDS -ge $next ] && [ $((end - SECONDS)) -gt 20 ]; then
            echo "$(date +%T) kill pg3" >>"$tmp/faults.log"
            tests/cluster.sh kill pg3 --dir "$tmp/cluster" >/dev/null 2>&1 || true
            sleep 10
            echo "$(date +%T) restart pg3" >>"$tmp/faults.log"
            tests/cluster.sh restart pg3 --dir "$tmp/cluster" >/dev/null 2>&1 || true
            next=$((SECONDS + kill_every))
        fi
        sleep 1
    done
}
sample() {
    echo "seconds,rss_kib,fds" >"$tmp/samples.csv"
    local start=$SECONDS
    while [ $SECONDS -lt $end ] && kill -0 "$router_pid" 2>/dev/null; do
        local rss fds
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$router_pid/status")
        fds=$(ls "/proc/$router_pid/fd" | wc -l)
        echo "$((SECONDS - start)),$rss,$fds" >>"$tmp/samples.csv"
        sleep 5
    done
}

echo "soak: $minutes min of load on port $port, pg3 killed every ${kill_every}s (logs in $tmp)" >&2
selects & pids+=($!)
bench tpcb -c 2 -j 1 & pids+=($!)
bench churn -C -S -c 2 -j 1 & pids+=($!)
broadcasts & pids+=($!)
faults & pids+=($!)
sample & pids+=($!)
wait "${pids[@]}" 2>/dev/null || true
pids=()
alive=yes
kill -0 "$router_pid" 2>/dev/null || alive=no
kill -TERM "$router_pid" 2>/dev/null || true
wait "$router_pid" 2>/dev/null && rc=0 || rc=$?
router_pid=

# The report.
/usr/bin/python3 - "$tmp" "$alive" "$rc" <<'PY'
import csv, glob, re, sys
tmp, alive, rc = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [(int(r["seconds"]), int(r["rss_kib"]), int(r["fds"]))
        for r in csv.DictReader(open(f"{tmp}/samples.csv"))]
def slope(pts):
    n = len(pts)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
half = rows[len(rows) // 2:]
def tx(name):
    txt = open(f"{tmp}/{name}.log", errors="replace").read() if glob.glob(f"{tmp}/{name}.log") else ""
    done = sum(int(x) for x in re.findall(r"number of transactions actually processed: (\d+)", txt))
    failed = sum(int(x) for x in re.findall(r"number of failed transactions: (\d+)", txt))
    aborted = len(re.findall(r"aborted in command|Run was aborted", txt))
    return done, failed, aborted
print(f"pgrouter alive at the end: {alive}; exit status after SIGTERM: {rc}")
if rows:
    print(f"RSS: {rows[0][1]} KiB at {rows[0][0]} s, {rows[-1][1]} KiB at {rows[-1][0]} s, "
          f"max {max(r[1] for r in rows)} KiB; slope over the second half "
          f"{slope([(s, r) for s, r, _ in half]) * 60:.1f} KiB/min")
    print(f"fds: {rows[0][2]} at start, {rows[-1][2]} at the end, max {max(r[2] for r in rows)}; "
          f"slope over the second half {slope([(s, f) for s, _, f in half]) * 60:.2f} /min")
for name in ("select", "tpcb", "churn"):
    done, failed, aborted = tx(name)
    print(f"pgbench {name}: {done} transactions, {failed} failed, {aborted} client aborts")
try:
    ok, failed = open(f"{tmp}/broadcast.count").read().split()
    print(f"broadcasts: {ok} answered, {failed} errors")
except OSError:
    pass
faults = open(f"{tmp}/faults.log").read().count("kill") if glob.glob(f"{tmp}/faults.log") else 0
print(f"pg3 killed and restarted {faults} times")
reports = [f for f in glob.glob(f"{tmp}/asan*")]
log = open(f"{tmp}/pgrouter.log", errors="replace").read()
san = len(reports) + log.count("runtime error:") + log.count("ERROR: AddressSanitizer")
print(f"sanitizer reports: {san}" + (f" ({', '.join(reports)})" if reports else ""))
PY
