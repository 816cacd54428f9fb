#!/usr/bin/python3
"""Side-by-side benchmark: direct PostgreSQL vs pgrouter vs PgBouncer (issue 8).

Run through bench/run.sh, which builds pgrouter, raises ulimit -n, makes the temp dir and owns
the exit trap. This program starts a node (tests/cluster.sh), pgrouter and PgBouncer in that
temp dir, runs every workload against every target in interleaved rounds, and writes
bench/results/<date>/results.md, results.csv and rounds.csv. Every process it starts is
recorded in TMP/pids ("pid comm" lines) so run.sh's trap can stop what this program could not.
common.py holds the workload table and small helpers; report.py writes the tables.

    bench.py --tmp DIR --build DIR [--quick] [--rounds N] [--duration S] [--only W[,W...]]
             [--pool-size N] [--scale N] [--profile[=MODE]]
"""
import argparse
import datetime
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from common import (BROADCAST_HINT, BROADCAST_SQL, BROADCAST_TARGETS, CLK_TCK, CLUSTER_SH,
                    LARGE_ROWS, LARGE_WIDTH, PGBENCH_VARIANTS, ROOT, ROUTER_TARGETS, TARGETS,
                    WORKLOAD_NAMES, fmt, median, spread_text)
from report import write_report

class Stop(Exception):
    """Raised by the SIGTERM/SIGHUP handler so that cleanup runs."""


class Procs:
    """Every process this program starts, stopped by pid in reverse order."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs = []   # (name, Popen)
        self.cluster_dir = None

    def _record(self):
        with open(self.tmp / "pids", "w") as f:
            for name, p in self.procs:
                if p.poll() is None:
                    f.write(f"{p.pid} {name}\n")

    def start(self, name, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append((name, p))
        self._record()
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=20):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._record()

    def stop_all(self):
        for _, p in reversed(self.procs):
            self.stop(p)
        if self.cluster_dir and (self.cluster_dir / "nodes").exists():
            subprocess.run([str(CLUSTER_SH), "stop", "--dir", str(self.cluster_dir)],
                           capture_output=True, check=False)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_query(port, timeout=20.0):
    """Wait until `SELECT 1` goes through PORT (a proxy's first health check may still run)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        r = subprocess.run(["psql", "-X", "-qAt", "-h", "127.0.0.1", "-p", str(port), "-U", "app",
                            "-d", "app", "-c", "SELECT 1"], capture_output=True, text=True,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="2"))
        if r.returncode == 0 and r.stdout.strip() == "1":
            return
        last = r.stderr.strip()
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers SELECT 1 on port {port}: {last}")


def proc_stat_ticks(pid):
    """utime + stime of PID in clock ticks (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def as_postgres_kw():
    """Popen arguments that run a server as the postgres user when we are root."""
    return {"user": "postgres", "group": "postgres"} if os.getuid() == 0 else {}


# ---------------------------------------------------------------------------------------------
# Setup


def start_nodes(procs, tmp, replicas):
    """pg1, plus REPLICAS streaming replicas pg2.. of it. Returns {node id: port}."""
    d = tmp / "cluster"
    procs.cluster_dir = d
    r = subprocess.run([str(CLUSTER_SH), "start", str(1 + replicas), "--replicas", str(replicas),
                        "--dir", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"cluster.sh start: {r.stderr.strip()}")
    ports = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == "node":
            ports[f[1]] = int(f[3])
    if "pg1" not in ports:
        raise RuntimeError(f"cluster.sh start printed no pg1: {r.stdout!r}")
    return ports


def psql_value(port, sql):
    r = subprocess.run(["psql", "-X", "-qAt", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                        "-d", "app", "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{sql}: {r.stderr.strip()}")
    return r.stdout.strip()


def wait_replicas(nodes, timeout=120.0):
    """Wait until every replica has replayed what the primary has written so far."""
    lsn = psql_value(nodes["pg1"], "SELECT pg_current_wal_insert_lsn()")  # synchronous_commit is off
    deadline = time.monotonic() + timeout
    for n, port in nodes.items():
        if n == "pg1":
            continue
        while psql_value(port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") != "t":
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {n} did not catch up with {lsn}")
            time.sleep(0.2)


def xact_counts(nodes):
    """Committed transactions in database app, per node (pg_stat_database)."""
    return {n: int(psql_value(p, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'app'"))
            for n, p in nodes.items()}


def init_data(port, scale, tmp):
    log(f"pgbench -i -s {scale} and a {LARGE_ROWS}-row table on the node")
    r = subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), "-h", "127.0.0.1", "-p",
                        str(port), "-U", "app", "app"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pgbench -i: {r.stderr.strip()}")
    for sql in ("DROP TABLE IF EXISTS bench_large",
                f"CREATE TABLE bench_large AS SELECT repeat('x', {LARGE_WIDTH}) AS v "
                f"FROM generate_series(1, {LARGE_ROWS})",
                "VACUUM ANALYZE"):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                            str(port), "-U", "app", "-d", "app", "-c", sql],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{sql}: {r.stderr.strip()}")
    big = tmp / "large.sql"
    big.write_text("SELECT v FROM bench_large;\n")
    return big


def start_pgrouter(procs, build, tmp, node_port, pool, tag="", nodes=None, reads="replicas"):
    """pgrouter on a free port; its config and log are TMP/pgrouter{TAG}.yaml and .log.
    In front of NODES ({id: port}) if given, else of pg1 on NODE_PORT alone."""
    nodes = nodes or {"pg1": node_port}
    node_yaml = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {p}, ssl: {{mode: disable}}}}"
                          for n, p in nodes.items())
    port = free_port()
    cfg = tmp / f"pgrouter{tag}.yaml"
    cfg.write_text(f"""# written by bench/bench.py
listen: {{host: 127.0.0.1, port: {port}, max_clients: 30000}}
auth: {{method: trust}}
tls: {{mode: disable}}
pool: {{mode: transaction, max_size: {pool}, acquire_timeout: 30s}}
health: {{interval: 1s, timeout: 1s}}
routing: {{reads: {reads}}}
log: {{level: warning}}
nodes:
{node_yaml}
""")
    logf = open(tmp / f"pgrouter{tag}.log", "w")
    p = procs.start("pgrouter", [str(build / "pgrouter"), "-c", str(cfg)], stdout=logf,
                    stderr=subprocess.STDOUT)
    wait_query(port)
    return p, port


def start_pgbouncer(procs, tmp, node_port, pool, tag=""):
    """PgBouncer on a free port, as postgres; its files are in TMP/pgbouncer{TAG}/."""
    port = free_port()
    d = tmp / f"pgbouncer{tag}"
    d.mkdir()
    (d / "userlist.txt").write_text('"app" "app"\n"postgres" ""\n')
    (d / "pgbouncer.ini").write_text(f"""; written by bench/bench.py
[databases]
app = host=127.0.0.1 port={node_port} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {d}/userlist.txt
pool_mode = transaction
default_pool_size = {pool}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 30000
max_db_connections = 0
ignore_startup_parameters = extra_float_digits
logfile = {d}/pgbouncer.log
log_connections = 0
log_disconnections = 0
""")
    if os.getuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    # PgBouncer refuses to run as root; Popen's user= makes the child itself postgres, so the
    # pid we hold (and measure) is PgBouncer's own.
    p = procs.start("pgbouncer", ["pgbouncer", str(d / "pgbouncer.ini")],
                    stdout=open(d / "pgbouncer.out", "w"), stderr=subprocess.STDOUT,
                    **as_postgres_kw())
    wait_query(port)
    return p, port


# ---------------------------------------------------------------------------------------------
# Measuring


def percentile(sorted_vals, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, math.ceil(q * len(sorted_vals)) - 1)
    return sorted_vals[k]


def read_latencies_us(prefix: Path):
    """Per-transaction latencies (µs) from pgbench --log files PREFIX.<pid>[.<thread>]."""
    lat = []
    for f in prefix.parent.glob(prefix.name + ".*"):
        with open(f) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]))
        f.unlink()
    lat.sort()
    return lat


def run_pgbench(port, args, duration, tmp, tx=None):
    """One pgbench run. Returns a dict: tps, tx, lat_med_ms, lat_p99_ms, ok, note."""
    prefix = tmp / "pgblog" / "tx"
    prefix.parent.mkdir(exist_ok=True)
    for f in prefix.parent.glob("tx.*"):
        f.unlink()
    length = ["-t", str(tx)] if tx else ["-T", str(duration)]
    argv = ["pgbench", "-n", *length, "--log", f"--log-prefix={prefix}", "-h", "127.0.0.1",
            "-p", str(port), "-U", "app", *args, "app"]
    res = {"tps": float("nan"), "tx": 0, "lat_med_ms": float("nan"), "lat_p99_ms": float("nan"),
           "ok": False, "note": ""}
    try:
        r = subprocess.run(argv, capture_output=True, text=True, cwd=tmp,
                           timeout=(duration if not tx else 60) + 90,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    except subprocess.TimeoutExpired:
        res["note"] = "pgbench hung (killed after the timeout)"
        read_latencies_us(prefix)
        return res
    out = r.stdout + r.stderr
    m = re.search(r"^tps = ([0-9.]+)", out, re.M)
    if m:
        res["tps"] = float(m.group(1))
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    if m:
        res["tx"] = int(m.group(1))
    lat = read_latencies_us(prefix)
    if lat:
        res["lat_med_ms"] = percentile(lat, 0.5) / 1000
        res["lat_p99_ms"] = percentile(lat, 0.99) / 1000
    notes = []
    m = re.search(r"number of failed transactions: (\d+)", out)
    if m and int(m.group(1)) > 0:
        notes.append(f"{m.group(1)} failed tx")
    aborted = len(re.findall(r"client \d+ aborted", out))
    if aborted:
        notes.append(f"{aborted} clients aborted")
    if r.returncode != 0:
        first_err = next((ln for ln in out.splitlines()
                          if "error" in ln.lower() or "FATAL" in ln or "aborted" in ln), "")
        notes.append(f"exit {r.returncode}: {first_err.strip()[:160]}")
    res["note"] = "; ".join(notes)
    res["ok"] = r.returncode == 0 and res["tx"] > 0 and not notes
    return res


# ---------------------------------------------------------------------------------------------
# Workloads


def bench_pgbench(ctx, variant, targets=TARGETS):
    """Rounds of VARIANT, interleaved over TARGETS: direct, pgrouter, pgbouncer, direct, …"""
    num, desc, args = PGBENCH_VARIANTS[variant]
    args = [a.replace("{big}", str(ctx.big)).replace("{bcast}", str(ctx.tmp / "bcast.sql"))
            for a in args]
    tx = ctx.large_tx if variant == "large" else None
    log(f"workload {num} {variant}: {ctx.rounds} rounds x {len(targets)} targets")
    for rnd in range(1, ctx.rounds + 1):
        for t in targets:
            pid = ctx.pids.get(t)
            cpu0 = proc_stat_ticks(pid) if pid else None
            res = run_pgbench(ctx.ports[t], args, ctx.duration, ctx.tmp, tx=tx)
            if pid:
                res["cpu_s"] = (proc_stat_ticks(pid) - cpu0) / CLK_TCK
            res.update(workload=num, variant=variant, target=t, round=rnd)
            ctx.rounds_rows.append(res)
            log(f"  {variant} round {rnd} {t}: tps {fmt(res['tps'])} p99 "
                f"{fmt(res['lat_p99_ms'], 3)} ms {res['note']}")


def summarize_pgbench(ctx, variant):
    """Per target: median tps/latency over rounds; CPU s per 10k tx over all rounds."""
    out = {}
    for t in {"router": ROUTER_TARGETS, "broadcast": BROADCAST_TARGETS}.get(variant, TARGETS):
        rows = [r for r in ctx.rounds_rows if r["variant"] == variant and r["target"] == t]
        if not rows:
            continue
        # A run with errors (aborted clients, failed transactions) is not comparable: it is
        # counted and its first error shown, but left out of the medians and the CPU figure.
        good = [r for r in rows if r["ok"]]
        tx = sum(r["tx"] for r in good)
        cpu = sum(r.get("cpu_s", 0.0) for r in good)
        notes = sorted({r["note"] for r in rows if r["note"]})
        out[t] = {
            "tps": median([r["tps"] for r in good]),
            "tps_min": min([r["tps"] for r in good], default=float("nan")),
            "tps_max": max([r["tps"] for r in good], default=float("nan")),
            "lat_med_ms": median([r["lat_med_ms"] for r in good]),
            "lat_p99_ms": median([r["lat_p99_ms"] for r in good]),
            "cpu_per_10k": (cpu / tx * 10000) if (any("cpu_s" in r for r in good) and tx)
                           else float("nan"),
            "failed_rounds": sum(1 for r in rows if not r["ok"]),
            "spread": spread_text([ctx.router_spread[t]] if t in ctx.router_spread else []),
            "rounds": len(rows),
            "notes": "; ".join(notes),
        }
    return out


def bench_router(ctx):
    """Workload 6: select-only over pg1 and its two replicas through two extra pgrouters, one
    sending reads to the replicas and one to the primary, interleaved with pg1 directly."""
    started = []
    try:
        for reads in ("replicas", "primary"):
            p, port = start_pgrouter(ctx.procs, ctx.build, ctx.tmp, None, ctx.pool,
                                     tag=f"-reads-{reads}", nodes=ctx.nodes, reads=reads)
            started.append(p)
            ctx.ports[f"pgrouter-{reads}"], ctx.pids[f"pgrouter-{reads}"] = port, p.pid
        # Reads go to replicas only once the health checks have seen them as replicas.
        time.sleep(2.5)
        bench_pgbench(ctx, "router", ROUTER_TARGETS)
        # The spread, measured apart: a backend reports its transaction counts to
        # pg_stat_database up to 10 s late when it goes idle (PostgreSQL 15's
        # PGSTAT_IDLE_INTERVAL), so counts read right after a run miss part of it and catch
        # part of the previous one. One more run per pgrouter, each counted from 10.5 s after
        # the previous run to 10.5 s after its own.
        _, desc, args = PGBENCH_VARIANTS["router"]
        time.sleep(10.5)
        x0 = xact_counts(ctx.nodes)
        # A quick run checks the replicas' spread only (reads: primary is checked in full runs).
        for t in ROUTER_TARGETS[1:2] if ctx.quick else ROUTER_TARGETS[1:]:
            run_pgbench(ctx.ports[t], args, ctx.duration, ctx.tmp)
            time.sleep(10.5)
            x1 = xact_counts(ctx.nodes)
            ctx.router_spread[t] = {n: x1[n] - x0[n] for n in ctx.nodes}
            x0 = x1
            log(f"  router spread {t}: {spread_text([ctx.router_spread[t]])}")
    finally:
        for p in started:
            ctx.procs.stop(p)
        for reads in ("replicas", "primary"):
            ctx.pids.pop(f"pgrouter-{reads}", None)


def bench_broadcast(ctx):
    """Workload 6, broadcast: latency of one small SELECT sent to 1, 2, 3 nodes by pgrouter,
    interleaved with the same SELECT on pg1 directly. Probes first; while pgrouter refuses
    broadcasts the report says so with pgrouter's own error."""
    (ctx.tmp / "bcast.sql").write_text(f"{BROADCAST_HINT} {BROADCAST_SQL};\n")
    ids = list(ctx.nodes)
    started = []
    saved = (ctx.rounds, ctx.duration)
    try:
        for k in (1, 2, 3):
            nodes = {n: ctx.nodes[n] for n in ids[:k]}
            p, port = start_pgrouter(ctx.procs, ctx.build, ctx.tmp, None, ctx.pool,
                                     tag=f"-broadcast-{k}", nodes=nodes)
            started.append(p)
            ctx.ports[f"broadcast-{k}"], ctx.pids[f"broadcast-{k}"] = port, p.pid
        time.sleep(2.5)  # every node healthy
        r = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(ctx.ports["broadcast-3"]), "-U", "app", "-d", "app", "-c",
                            f"{BROADCAST_HINT} SELECT count(*) FROM pgbench_branches"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            ctx.broadcast_note = f"not yet: pgrouter answers {r.stderr.strip()[:200]!r}"
            log(f"workload 6 broadcast: {ctx.broadcast_note}")
            return
        ctx.broadcast_note = f"probe over 3 nodes returned {r.stdout.strip()!r}"
        # Latency, not throughput, is the point: at most 3 rounds of at most 5 s.
        ctx.rounds, ctx.duration = min(ctx.rounds, 3), min(ctx.duration, 5)
        bench_pgbench(ctx, "broadcast", BROADCAST_TARGETS)
    finally:
        ctx.rounds, ctx.duration = saved
        for p in started:
            ctx.procs.stop(p)
        for k in (1, 2, 3):
            ctx.pids.pop(f"broadcast-{k}", None)


def bench_idle(ctx, n):
    """N idle clients on each proxy: RSS before/after, per-client KiB, select-only alongside.

    Each measurement uses a freshly started proxy (same settings as the main ones), so that
    memory freed by earlier workloads cannot absorb the clients and both proxies start from the
    same cold state."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    for t in ("pgrouter", "pgbouncer"):
        row = {"target": t, "n": n, "rss0": float("nan"), "rss1": float("nan"),
               "per_client_kib": float("nan"), "tps": float("nan"), "note": ""}
        ctx.idle_rows.append(row)
        if soft < n + 200:
            row["note"] = f"skipped: ulimit -n is {soft}, needs {n + 200} (run as root)"
            log(f"workload 4 idle {n} {t}: {row['note']}")
            continue
        tag = f"-idle{n}"
        if t == "pgrouter":
            proxy, port = start_pgrouter(ctx.procs, ctx.build, ctx.tmp, ctx.ports["direct"],
                                         ctx.pool, tag)
        else:
            proxy, port = start_pgbouncer(ctx.procs, ctx.tmp, ctx.ports["direct"], ctx.pool, tag)
        try:
            measure_idle(ctx, row, proxy.pid, port, n)
        finally:
            ctx.procs.stop(proxy)


def measure_idle(ctx, row, pid, port, n):
    """Fill ROW: RSS of PID before, with N idle clients on PORT, and after they close; TPS
    of a select-only run alongside them."""
    t = row["target"]
    row["rss0"] = rss_kib(pid)
    log(f"workload 4 idle {n} {t}: opening {n} connections")
    p = ctx.procs.start("idle_clients", ["/usr/bin/python3", str(ROOT / "bench" / "idle_clients.py"),
                                         "127.0.0.1", str(port), str(n)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        if not line.startswith("ready"):
            row["note"] = f"idle clients failed: {line or 'no output'}"
            log(f"  {row['note']}")
            return
        row["open_s"] = float(line.split()[2])
        time.sleep(1.0)
        row["rss1"] = rss_kib(pid)
        row["per_client_kib"] = (row["rss1"] - row["rss0"]) / n
        res = run_pgbench(port, ["-S", "-M", "simple", "-c", "32", "-j", "2"],
                          ctx.duration, ctx.tmp)
        row["tps"] = res["tps"]
        row["note"] = res["note"]
        row["rss2"] = rss_kib(pid)
        log(f"  {t}: RSS {row['rss0']} -> {row['rss1']} KiB, "
            f"{fmt(row['per_client_kib'])} KiB/client, select-only alongside tps "
            f"{fmt(row['tps'])} {row['note']}")
    finally:
        if p.poll() is None:
            p.stdin.close()
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                pass
        ctx.procs.stop(p)
    time.sleep(2.0)
    row["rss3"] = rss_kib(pid)
    log(f"  {t}: RSS {row['rss3']} KiB 2 s after the idle clients closed")


def bench_micro(ctx):
    """Workload 7: the codec and classifier microbenchmarks, output kept verbatim."""
    secs = "0.5" if ctx.quick else "2"
    for name, argv in (("codec_bench", [str(ctx.build / "bench" / "codec_bench"), secs]),
                       ("classify_bench", [str(ctx.build / "bench" / "classify_bench"), secs])):
        exe = Path(argv[0])
        if not exe.exists():
            ctx.micro[name] = "not built yet"
            log(f"workload 7 {name}: not built yet")
            continue
        log(f"workload 7 {name}")
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            ctx.micro[name] = (r.stdout + r.stderr).strip() + \
                ("" if r.returncode == 0 else f"\n(exit {r.returncode})")
        except subprocess.TimeoutExpired:
            ctx.micro[name] = "timed out after 300 s"


def profile(ctx, mode):
    """perf record (cpu-clock sampling, DWARF call graphs) on pgrouter while pgbench -S runs.

    Writes perf-MODE-self.txt (cost by symbol, self) and perf-MODE-children.txt (inclusive) to the
    results; perf.data stays in the temp dir and goes with it."""
    data = ctx.tmp / "perf.data"
    pid = ctx.pids["pgrouter"]
    secs = max(ctx.duration, 10)
    log(f"profile: perf record on pgrouter under pgbench -S -M {mode} -c 32 for {secs} s")
    rec = ctx.procs.start("perf", ["perf", "record", "-e", "cpu-clock", "-F", "499",
                                   "--call-graph", "dwarf,16384", "-p", str(pid), "-o", str(data)],
                          stdout=subprocess.DEVNULL, stderr=open(ctx.tmp / "perf.err", "w"))
    time.sleep(1.0)
    res = run_pgbench(ctx.ports["pgrouter"], ["-S", "-M", mode, "-c", "32", "-j", "2"],
                      secs, ctx.tmp)
    ctx.procs.stop(rec, sig=signal.SIGINT, timeout=120)
    header = (f"pgrouter pid {pid}, pgbench -S -M {mode} -c 32 -T {secs}: tps {fmt(res['tps'])}\n"
              f"perf record -e cpu-clock -F 499 --call-graph dwarf\n\n")
    for kind, extra in (("self", ["--no-children", "-g", "none"]),
                        ("children", ["--children", "-g", "none"])):
        r = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--percent-limit", "0.5",
                            "--sort", "dso,symbol", *extra], capture_output=True, text=True)
        (ctx.results / f"perf-{mode}-{kind}.txt").write_text(header + r.stdout + r.stderr)
    log(f"profile: {ctx.results}/perf-{mode}-self.txt, perf-{mode}-children.txt")


# ---------------------------------------------------------------------------------------------
# Main


class Ctx:
    pass


def parse_only(text):
    if not text:
        return set(range(1, 8))
    out = set()
    for w in text.split(","):
        w = w.strip().lower()
        if w.isdigit() and 1 <= int(w) <= 7:
            out.add(int(w))
        elif w in WORKLOAD_NAMES:
            out.add(WORKLOAD_NAMES[w])
        elif w in PGBENCH_VARIANTS:
            out.add(w)
        else:
            raise SystemExit(f"--only: unknown workload {w!r}: use 1-7, "
                             f"{', '.join(WORKLOAD_NAMES)} or {', '.join(PGBENCH_VARIANTS)}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tmp", required=True, type=Path)
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--only")
    ap.add_argument("--pool-size", type=int, default=32)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--profile", nargs="?", const="simple",
                    choices=("simple", "extended", "prepared"))
    a = ap.parse_args()

    ctx = Ctx()
    ctx.quick = a.quick
    ctx.rounds = a.rounds or (3 if a.quick else 5)
    ctx.duration = a.duration or (1 if a.quick else 7)
    ctx.large_tx = 5 if a.quick else 20
    ctx.pool, ctx.scale = a.pool_size, a.scale
    ctx.tmp, ctx.build = a.tmp.resolve(), a.build.resolve()
    ctx.only = parse_only(a.only)
    ctx.idle_ns = [1000] if a.quick else [1000, 10000]
    ctx.rounds_rows, ctx.idle_rows, ctx.micro, ctx.router_spread = [], [], {}, {}
    ctx.started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    ctx.load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    ctx.buildtype = "?"
    m = re.search(r"buildtype\s*=\s*(\S+)", (ctx.build / "meson-private" / "cmd_line.txt").read_text()
                  if (ctx.build / "meson-private" / "cmd_line.txt").exists() else "")
    if m:
        ctx.buildtype = m.group(1)
    if ctx.rounds < 1 or ctx.duration < 1:
        raise SystemExit("--rounds and --duration must be at least 1")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    ctx.results = ROOT / "bench" / "results" / stamp
    ctx.results.mkdir(parents=True, exist_ok=True)

    def on_signal(signum, _frame):
        raise Stop(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    ctx.tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(ctx.tmp, 0o755)  # the postgres user must reach the cluster and PgBouncer dirs
    ctx.procs = procs = Procs(ctx.tmp)
    t0 = time.monotonic()
    try:
        needs_servers = ctx.only - {7}
        ctx.ports, ctx.pids = {}, {}
        if needs_servers:
            # Workload 6 needs two replicas; they stream from pg1 during every workload (the
            # same for all targets) and serve only workload 6's reads.
            replicas = 2 if ctx.only & {6, "broadcast"} else 0
            log(f"starting PostgreSQL: pg1{f' and {replicas} replicas' if replicas else ''} "
                "(tests/cluster.sh)")
            ctx.nodes = start_nodes(procs, ctx.tmp, replicas)
            node = ctx.nodes["pg1"]
            ctx.big = init_data(node, ctx.scale, ctx.tmp)
            if replicas:
                wait_replicas(ctx.nodes)
            r, rport = start_pgrouter(procs, ctx.build, ctx.tmp, node, ctx.pool)
            b, bport = start_pgbouncer(procs, ctx.tmp, node, ctx.pool)
            ctx.ports = {"direct": node, "pgrouter": rport, "pgbouncer": bport}
            ctx.pids = {"pgrouter": r.pid, "pgbouncer": b.pid}
            log(f"node :{node}, pgrouter :{rport} pid {r.pid}, pgbouncer :{bport} pid {b.pid}")
        for v, (num, _, _) in PGBENCH_VARIANTS.items():
            if num != 6 and (num in ctx.only or v in ctx.only):
                bench_pgbench(ctx, v)
        if 6 in ctx.only:
            bench_router(ctx)
        if ctx.only & {6, "broadcast"}:
            bench_broadcast(ctx)
        if 4 in ctx.only:
            for n in ctx.idle_ns:
                bench_idle(ctx, n)
        if 7 in ctx.only:
            bench_micro(ctx)
        if a.profile and ctx.pids:
            profile(ctx, a.profile)
        for t, p in (("pgrouter", ctx.pids.get("pgrouter")), ("pgbouncer", ctx.pids.get("pgbouncer"))):
            if p and not Path(f"/proc/{p}").exists():
                log(f"WARNING: {t} (pid {p}) is no longer running")
    except (KeyboardInterrupt, Stop) as e:
        log(f"interrupted ({e or 'Ctrl-C'}); stopping everything and writing partial results")
    finally:
        # One signal is enough: run.sh's trap may send TERM while this cleanup runs.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        procs.stop_all()
        # Every proxy's config and log, for the record and for errors seen during the run.
        for src in [*ctx.tmp.glob("pgrouter*.yaml"), *ctx.tmp.glob("pgrouter*.log")]:
            shutil.copy(src, ctx.results / src.name)
        for d in ctx.tmp.glob("pgbouncer*/"):
            for f in ("pgbouncer.ini", "pgbouncer.log"):
                if (d / f).exists():
                    shutil.copy(d / f, ctx.results / f"{d.name}.{f.split('.')[1]}")
    summaries = {v: summarize_pgbench(ctx, v) for v in PGBENCH_VARIANTS
                 if any(r["variant"] == v for r in ctx.rounds_rows)}
    text = write_report(ctx, summaries)
    print(text)
    log(f"done in {time.monotonic() - t0:.0f} s; results in {ctx.results}")


if __name__ == "__main__":
    main()
