#!/usr/bin/python3
"""Side-by-side benchmark: direct PostgreSQL vs pgrouter vs PgBouncer (issue 8).

Run through bench/run.sh, which builds pgrouter, raises ulimit -n, makes the temp dir and owns
the exit trap. This program starts a node (tests/cluster.sh), pgrouter and PgBouncer in that
temp dir, runs every workload against every target in interleaved rounds, and writes
bench/results/<date>/results.md, results.csv and rounds.csv. Every process it starts is
recorded in TMP/pids ("pid comm" lines) so run.sh's trap can stop what this program could not.

    bench.py --tmp DIR --build DIR [--quick] [--rounds N] [--duration S] [--only W[,W...]]
             [--pool-size N] [--scale N] [--profile[=MODE]]
"""
import argparse
import csv
import datetime
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_SH = ROOT / "tests" / "cluster.sh"
PGBIN = Path("/usr/lib/postgresql/15/bin")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGETS = ("direct", "pgrouter", "pgbouncer")
LARGE_ROWS, LARGE_WIDTH = 100_000, 100

# Workload variants run with pgbench: name -> (workload number, description, pgbench args).
# "{big}" is replaced by the large-result script's path.
PGBENCH_VARIANTS = {
    "select-simple": (1, "pgbench -S -M simple -c 32", ["-S", "-M", "simple", "-c", "32", "-j", "2"]),
    "select-extended": (1, "pgbench -S -M extended -c 32",
                        ["-S", "-M", "extended", "-c", "32", "-j", "2"]),
    "select-prepared": (1, "pgbench -S -M prepared -c 32",
                        ["-S", "-M", "prepared", "-c", "32", "-j", "2"]),
    "select-c1": (1, "pgbench -S -M simple -c 1 (latency)", ["-S", "-M", "simple", "-c", "1"]),
    "tpcb": (2, "pgbench TPC-B-like -c 16", ["-c", "16", "-j", "2"]),
    "churn": (3, "pgbench -C -S -c 8 (connection churn)", ["-C", "-S", "-c", "8", "-j", "2"]),
    "large": (5, f"SELECT {LARGE_ROWS // 1000}k rows x {LARGE_WIDTH} B, -c 1",
              ["-M", "simple", "-c", "1", "-f", "{big}"]),
    "router": (6, "pgbench -S -M simple -c 32 over a primary and two replicas",
               ["-S", "-M", "simple", "-c", "32", "-j", "2"]),
}
# Workload 6's targets: the primary directly, and pgrouter in front of all three nodes sending
# reads to the replicas (routing.reads: replicas) or to the primary (routing.reads: primary).
ROUTER_TARGETS = ("direct", "pgrouter-replicas", "pgrouter-primary")
WORKLOAD_NAMES = {"select": 1, "tpcb": 2, "churn": 3, "idle": 4, "large": 5, "router": 6,
                  "micro": 7}


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
    lsn = psql_value(nodes["pg1"], "SELECT pg_current_wal_lsn()")
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


def median(vals):
    vals = [v for v in vals if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


def fmt(v, digits=2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return float("nan")
    return a / b


# ---------------------------------------------------------------------------------------------
# Workloads


def bench_pgbench(ctx, variant, targets=TARGETS):
    """Rounds of VARIANT, interleaved over TARGETS: direct, pgrouter, pgbouncer, direct, …"""
    num, desc, args = PGBENCH_VARIANTS[variant]
    args = [a.replace("{big}", str(ctx.big)) for a in args]
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


def spread_text(spreads):
    """'pg1 1 % · pg2 50 % · pg3 49 %': each node's share of the transactions, all rounds."""
    if not spreads:
        return ""
    tot = {}
    for sp in spreads:
        for n, v in sp.items():
            tot[n] = tot.get(n, 0) + v
    allv = sum(tot.values()) or 1
    return " · ".join(f"{n} {100 * v / allv:.0f} %" for n, v in sorted(tot.items()))


def summarize_pgbench(ctx, variant):
    """Per target: median tps/latency over rounds; CPU s per 10k tx over all rounds."""
    out = {}
    for t in (ROUTER_TARGETS if variant == "router" else TARGETS):
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
        for t in ROUTER_TARGETS[1:]:
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
# Report

CSV_COLS = ["workload", "variant", "target", "tps", "mb_s", "lat_med_ms", "lat_p99_ms",
            "ratio_direct", "ratio_pgbouncer", "cpu_s_per_10k_tx", "rss_before_kib",
            "rss_after_kib", "kib_per_client", "rss_closed_kib", "failed_rounds", "rounds", "notes"]


def machine_lines(ctx):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    def ver(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    return [
        f"- machine: {cpu}, {os.cpu_count()} CPUs, {mem_gib:.0f} GiB, Linux {platform.release()}",
        f"- ulimit -n {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}; "
        f"load average at start: {ctx.load0}; at end: {' '.join(open('/proc/loadavg').read().split()[:3])}",
        f"- {ver([str(PGBIN / 'postgres'), '--version'])}; {ver(['pgbouncer', '--version'])}; "
        f"pgrouter {rev} (build {ctx.build.name}, buildtype {ctx.buildtype})",
        f"- settings: {ctx.rounds} rounds, {ctx.duration} s per run, large results "
        f"{ctx.large_tx} queries per run, pool size {ctx.pool} (pgrouter pool.max_size = PgBouncer "
        f"default_pool_size, transaction mode, trust auth, no TLS), pgbench scale {ctx.scale}, "
        f"pgbench -j 2 where -c > 1",
    ]


def write_report(ctx):
    md = [f"# pgrouter benchmark, {ctx.started}", ""] + machine_lines(ctx) + [""]
    csv_rows = []
    summaries = {v: summarize_pgbench(ctx, v) for v in PGBENCH_VARIANTS
                 if any(r["variant"] == v for r in ctx.rounds_rows)}

    md += ["## Throughput and latency (workloads 1–3)", "",
           "Median over the rounds without errors (a run with aborted clients or failed transactions is counted under failed rounds, its first error in notes). p99 = 99th percentile (nearest rank) of every transaction's "
           "latency in one run, from `pgbench --log`; the table shows the median of the rounds' "
           "p99s. CPU = the proxy's utime+stime (/proc/PID/stat) per 10,000 transactions.", "",
           "| # | workload | target | TPS | TPS min–max | × direct | pgrouter ÷ PgBouncer "
           "| latency median ms | latency p99 ms | CPU s / 10k tx | failed rounds | notes |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for v, s in summaries.items():
        num, desc, _ = PGBENCH_VARIANTS[v]
        d = s.get("direct", {}).get("tps", float("nan"))
        b = s.get("pgbouncer", {}).get("tps", float("nan"))
        for t, x in s.items():
            rd = ratio(x["tps"], d)
            rb = ratio(x["tps"], b) if t == "pgrouter" else float("nan")
            mb = x["tps"] * LARGE_ROWS * LARGE_WIDTH / 1e6 if v == "large" else float("nan")
            csv_rows.append({"workload": num, "variant": v, "target": t, "tps": x["tps"],
                             "mb_s": mb, "lat_med_ms": x["lat_med_ms"],
                             "lat_p99_ms": x["lat_p99_ms"], "ratio_direct": rd,
                             "ratio_pgbouncer": rb, "cpu_s_per_10k_tx": x["cpu_per_10k"],
                             "failed_rounds": x["failed_rounds"], "rounds": x["rounds"],
                             "notes": x["notes"]})
            if v in ("large", "router"):
                continue
            md.append(f"| {num} | {desc} | {t} | {fmt(x['tps'], 0)} | "
                      f"{'–' if math.isnan(x['tps']) else fmt(x['tps_min'], 0) + '–' + fmt(x['tps_max'], 0)} | "
                      f"{fmt(rd) if t != 'direct' else ''} | {fmt(rb) if t == 'pgrouter' else ''} | "
                      f"{fmt(x['lat_med_ms'], 3)} | {fmt(x['lat_p99_ms'], 3)} | "
                      f"{fmt(x['cpu_per_10k'], 3) if t != 'direct' else ''} | "
                      f"{x['failed_rounds']}/{x['rounds']} | {x['notes']} |")
    if "large" in summaries:
        s = summaries["large"]
        d = s.get("direct", {}).get("tps", float("nan"))
        b = s.get("pgbouncer", {}).get("tps", float("nan"))
        md += ["", "## Large results (workload 5)", "",
               f"`SELECT v FROM bench_large` ({LARGE_ROWS:,} rows of {LARGE_WIDTH} bytes), pgbench "
               "-c 1, results read and discarded by libpq. MB/s = queries/s × "
               f"{LARGE_ROWS * LARGE_WIDTH / 1e6:.0f} MB of row data (the wire carries ~11 % more: "
               "DataRow headers).", "",
               "| target | MB/s | × direct | pgrouter ÷ PgBouncer | query median ms | query p99 ms "
               "| CPU ms / query | failed rounds | notes |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for t, x in s.items():
            mb = x["tps"] * LARGE_ROWS * LARGE_WIDTH / 1e6
            md.append(f"| {t} | {fmt(mb, 1)} | {fmt(ratio(x['tps'], d)) if t != 'direct' else ''} | "
                      f"{fmt(ratio(x['tps'], b)) if t == 'pgrouter' else ''} | "
                      f"{fmt(x['lat_med_ms'], 1)} | {fmt(x['lat_p99_ms'], 1)} | "
                      f"{fmt(x['cpu_per_10k'] / 10, 1) if t != 'direct' else ''} | "
                      f"{x['failed_rounds']}/{x['rounds']} | {x['notes']} |")

    if ctx.idle_rows:
        base = summaries.get("select-simple", {})
        md += ["", "## Idle clients (workload 4)", "",
               "N connections complete startup and stay idle (bench/idle_clients.py); VmRSS of the "
               "proxy before and 1 s after they are all ready; per client = delta / N; and 2 s after they "
               "closed. Alongside, "
               f"`pgbench -S -M simple -c 32` for {ctx.duration} s (one run).", "",
               "| target | idle clients | RSS before KiB | RSS with idle KiB | KiB per client "
               "| select-only TPS alongside | × its TPS without idle clients "
               "| RSS after close KiB | notes |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in ctx.idle_rows:
            plain = base.get(r["target"], {}).get("tps", float("nan"))
            md.append(f"| {r['target']} | {r['n']:,} | {fmt(r['rss0'], 0)} | {fmt(r['rss1'], 0)} | "
                      f"{fmt(r['per_client_kib'])} | {fmt(r['tps'], 0)} | "
                      f"{fmt(ratio(r['tps'], plain))} | {fmt(r.get('rss3', float('nan')), 0)} | "
                      f"{r['note']} |")
            csv_rows.append({"workload": 4, "variant": f"idle-{r['n']}", "target": r["target"],
                             "tps": r["tps"], "rss_before_kib": r["rss0"],
                             "rss_after_kib": r["rss1"], "kib_per_client": r["per_client_kib"],
                             "rss_closed_kib": r.get("rss3", float("nan")),
                             "rounds": 1, "notes": r["note"]})

    md += ["", "## Router and broadcast (workload 6)", ""]
    if "router" in summaries:
        s = summaries["router"]
        d = s.get("direct", {}).get("tps", float("nan"))
        md += [f"{PGBENCH_VARIANTS['router'][1]}: pg1 directly, and pgrouter in front of pg1, "
               "pg2, pg3 with `routing.reads: replicas` (reads balanced over the replicas) or "
               "`routing.reads: primary` (every statement classified, then sent to pg1). Spread = "
               "each node's share of the committed transactions in database app "
               "(pg_stat_database.xact_commit) over one more run of each pgrouter, read 10.5 s after "
               "it ended so that every backend has reported its counts (PostgreSQL 15 reports an "
               "idle backend's counts up to 10 s late); pgrouter's health checks are included.",
               "",
               "| target | TPS | × direct | latency median ms | latency p99 ms | CPU s / 10k tx "
               "| spread | failed rounds | notes |",
               "|---|---:|---:|---:|---:|---:|---|---:|---|"]
        for t, x in s.items():
            md.append(f"| {t} | {fmt(x['tps'], 0)} | {fmt(ratio(x['tps'], d)) if t != 'direct' else ''}"
                      f" | {fmt(x['lat_med_ms'], 3)} | {fmt(x['lat_p99_ms'], 3)} | "
                      f"{fmt(x['cpu_per_10k'], 3) if t != 'direct' else ''} | {x['spread']} | "
                      f"{x['failed_rounds']}/{x['rounds']} | {x['notes']} |")
            # The csv row was written by the loop above; add the spread to its notes.
            for c in csv_rows:
                if c["variant"] == "router" and c["target"] == t:
                    c["notes"] = "; ".join(filter(None, [x["spread"], x["notes"]]))
        md.append("")
    else:
        md += ["Router: not run (select it with --only 6 or run all workloads).", ""]
    md += ["Broadcast latency over 1, 2, 3 nodes: not yet (pgrouter answers a broadcast with "
           "SQLSTATE 0A000 \"broadcast is not implemented yet\").", ""]
    csv_rows.append({"workload": 6, "variant": "broadcast", "target": "pgrouter",
                     "notes": "not yet"})

    if ctx.micro:
        md += ["## Microbenchmarks (workload 7)", ""]
        for name, text in ctx.micro.items():
            md += [f"`{name}`:", "", "```", text, "```", ""]
            csv_rows.append({"workload": 7, "variant": name, "target": "-",
                             "notes": text.replace("\n", " | ")})

    md += goals(ctx, summaries)
    (ctx.results / "results.md").write_text("\n".join(md) + "\n")
    with open(ctx.results / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, CSV_COLS)
        w.writeheader()
        for r in csv_rows:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else
                            (f"{v:.6g}" if isinstance(v, float) else v)) for k, v in r.items()})
    with open(ctx.results / "rounds.csv", "w", newline="") as f:
        cols = ["workload", "variant", "round", "target", "tps", "tx", "lat_med_ms", "lat_p99_ms",
                "cpu_s", "ok", "note"]
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(ctx.rounds_rows)
    return "\n".join(md)


def goals(ctx, s):
    """The issue's goals, each met / not met / not measured, from this run's numbers."""
    def get(v, t, k):
        return s.get(v, {}).get(t, {}).get(k, float("nan"))

    def verdict(ok):
        return "not measured" if ok is None else ("met" if ok else "not met")

    rows = []
    for mode in ("simple", "extended", "prepared"):
        v = f"select-{mode}"
        rb = ratio(get(v, "pgrouter", "tps"), get(v, "pgbouncer", "tps"))
        rd = ratio(get(v, "pgrouter", "tps"), get(v, "direct", "tps"))
        ok = None if math.isnan(rd) else (rd >= 0.85 and (math.isnan(rb) or rb >= 1.1))
        bfail = s.get(v, {}).get("pgbouncer", {}).get("failed_rounds", 0)
        bnote = (f" (PgBouncer failed {bfail} of {s[v]['pgbouncer']['rounds']} rounds)"
                 if math.isnan(rb) and bfail else "")
        rows.append((f"select-only -M {mode} -c 32: ≥ 1.1× PgBouncer and ≥ 0.85× direct",
                     f"{fmt(rb)}× PgBouncer{bnote}, {fmt(rd)}× direct", verdict(ok)))
    added = get("select-c1", "pgrouter", "lat_p99_ms") - get("select-c1", "direct", "lat_p99_ms")
    badded = get("select-c1", "pgbouncer", "lat_p99_ms") - get("select-c1", "direct", "lat_p99_ms")
    rows.append(("p99 added over direct at -c 1 ≤ 100 µs",
                 f"{fmt(added * 1000, 0)} µs (PgBouncer adds {fmt(badded * 1000, 0)} µs)",
                 verdict(None if math.isnan(added) else added * 1000 <= 100)))
    idle = {r["n"]: r for r in ctx.idle_rows if r["target"] == "pgrouter"}
    if 10000 in idle and not math.isnan(idle[10000]["per_client_kib"]):
        kib = idle[10000]["per_client_kib"]
        bk = next((r["per_client_kib"] for r in ctx.idle_rows
                   if r["target"] == "pgbouncer" and r["n"] == 10000), float("nan"))
        rows.append(("≤ 2 KiB per idle client at 10,000",
                     f"{fmt(kib)} KiB (PgBouncer {fmt(bk)} KiB)", verdict(kib <= 2)))
    elif 1000 in idle and not math.isnan(idle[1000]["per_client_kib"]):
        kib = idle[1000]["per_client_kib"]
        rows.append(("≤ 2 KiB per idle client at 10,000",
                     f"{fmt(kib)} KiB at 1,000 only (quick run)", "not measured at 10,000"))
    else:
        rows.append(("≤ 2 KiB per idle client at 10,000", "–", "not measured"))
    rb = ratio(get("churn", "pgrouter", "tps"), get("churn", "pgbouncer", "tps"))
    rows.append(("connection churn (-C) ≥ PgBouncer's TPS", f"{fmt(rb)}× PgBouncer",
                 verdict(None if math.isnan(rb) else rb >= 1.0)))
    rd = ratio(get("large", "pgrouter", "tps"), get("large", "direct", "tps"))
    rdb = ratio(get("large", "pgbouncer", "tps"), get("large", "direct", "tps"))
    rows.append(("large results ≥ 90 % of direct",
                 f"{fmt(rd * 100, 0)} % (PgBouncer {fmt(rdb * 100, 0)} %)",
                 verdict(None if math.isnan(rd) else rd >= 0.9)))
    md = ["## Goals (issue 8)", "", "| goal | this run | verdict |", "|---|---|---|"]
    md += [f"| {g} | {v} | {x} |" for g, v, x in rows]
    return md + [""]


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
            replicas = 2 if 6 in ctx.only else 0
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
            if v != "router" and (num in ctx.only or v in ctx.only):
                bench_pgbench(ctx, v)
        if 6 in ctx.only:
            bench_router(ctx)
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
    text = write_report(ctx)
    print(text)
    log(f"done in {time.monotonic() - t0:.0f} s; results in {ctx.results}")


if __name__ == "__main__":
    main()
