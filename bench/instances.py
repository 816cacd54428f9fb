#!/usr/bin/python3
"""Select-only throughput of 1, 2 and 3 pgrouter processes sharing one port (listen.reuseport,
`--workers N`) beside as many PgBouncer processes with `so_reuseport = 1` (issue 18).

    bench/instances.py [--build DIR] [--rounds N] [--duration S] [--clients C] [--scale N]

One node (tests/cluster.sh) with pgbench -i; then, for N = 1, 2, 3, a pgrouter group
(`pgrouter -c FILE --workers N`) and a PgBouncer group (N processes, one ini), both with
pool size 32 per process, and `pgbench -n -S -M simple -c C -j 2` against each, in interleaved
rounds (pgrouter N, PgBouncer N, pgrouter N, ...). Prints a Markdown table of median TPS. Every
process is started in a temp dir under /tmp and stopped by pid when the run ends, also on an
error or Ctrl-C; the node is stopped by cluster.sh. On a 2-core machine pgbench, PostgreSQL and
the proxies share the cores: read the numbers as cost, not as scaling.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (Procs, Stop, as_postgres_kw, free_port, log, run_pgbench,  # noqa: E402
                   start_nodes, wait_query)
from common import ROOT, median  # noqa: E402


def start_pgrouter_group(procs, build, tmp, node_port, pool, n):
    port = free_port()
    cfg = tmp / f"pgrouter-{n}.yaml"
    cfg.write_text(f"""# written by bench/instances.py
listen: {{host: 127.0.0.1, port: {port}, max_clients: 30000, reuseport: true}}
auth: {{method: trust}}
tls: {{mode: disable}}
pool: {{mode: transaction, max_size: {pool}, acquire_timeout: 30s}}
health: {{interval: 1s, timeout: 1s}}
log: {{level: warning}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {node_port}, ssl: {{mode: disable}}}}
""")
    logf = open(tmp / f"pgrouter-{n}.log", "w")
    p = procs.start("pgrouter", [str(build / "pgrouter"), "-c", str(cfg), "--workers", str(n)],
                    stdout=logf, stderr=subprocess.STDOUT)
    wait_query(port)
    time.sleep(1.5)  # every worker listening and its node checked
    text = (tmp / f"pgrouter-{n}.log").read_text()
    if p.poll() is not None or text.count(": pid ") != n or "exited with" in text:
        raise RuntimeError(f"the pgrouter group did not start {n} workers: {text[-1000:]}")
    return [p], port


def start_pgbouncer_group(procs, tmp, node_port, pool, n):
    port = free_port()
    d = tmp / f"pgbouncer-{n}"
    d.mkdir()
    (d / "userlist.txt").write_text('"app" "app"\n"postgres" ""\n')
    (d / "pgbouncer.ini").write_text(f"""; written by bench/instances.py
[databases]
app = host=127.0.0.1 port={node_port} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
so_reuseport = 1
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
    ps = []
    for i in range(n):
        ps.append(procs.start("pgbouncer", ["pgbouncer", str(d / "pgbouncer.ini")],
                              stdout=open(d / f"pgbouncer-{i}.out", "w"),
                              stderr=subprocess.STDOUT, **as_postgres_kw()))
    wait_query(port)
    time.sleep(1.5)
    if any(p.poll() is not None for p in ps):  # a second process that could not share the port
        raise RuntimeError(f"a PgBouncer process exited; see {d}")
    return ps, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("PGR_BENCH_BUILD", ROOT / "build-bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pool-size", type=int, default=32)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--max-processes", type=int, default=3)
    a = ap.parse_args()
    build = Path(a.build)

    def on_signal(signum, frame):
        raise Stop()

    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)
    tmp = Path(tempfile.mkdtemp(prefix="pgr-bench-inst-"))
    os.chmod(tmp, 0o755)
    procs = Procs(tmp)
    rows = []
    try:
        nodes = start_nodes(procs, tmp, 0)
        node = nodes["pg1"]
        log(f"pgbench -i -s {a.scale}")
        r = subprocess.run(["pgbench", "-i", "-q", "-s", str(a.scale), "-h", "127.0.0.1", "-p",
                            str(node), "-U", "app", "app"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"pgbench -i: {r.stderr.strip()}")
        args = ["-S", "-M", "simple", "-c", str(a.clients), "-j", "2"]
        for n in range(1, a.max_processes + 1):
            groups = {"pgrouter": start_pgrouter_group(procs, build, tmp, node, a.pool_size, n),
                      "pgbouncer": start_pgbouncer_group(procs, tmp, node, a.pool_size, n)}
            tps = {k: [] for k in groups}
            notes = {k: set() for k in groups}
            for rnd in range(a.rounds):
                for name, (_, port) in groups.items():
                    res = run_pgbench(port, args, a.duration, tmp)
                    log(f"{n} process(es), {name}, round {rnd + 1}: {res['tps']:.0f} tps "
                        f"{res['note']}")
                    tps[name].append(res["tps"])
                    if res["note"]:
                        notes[name].add(res["note"])
            for name, (ps, _) in groups.items():
                for p in ps:
                    procs.stop(p)
            rows.append((n, median(tps["pgrouter"]), median(tps["pgbouncer"]),
                         "; ".join(sorted(notes["pgrouter"] | notes["pgbouncer"]))))
    except Stop:
        log("stopped by a signal")
        return 130
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\npgbench -n {' '.join(args)} -T {a.duration}, median of {a.rounds} rounds, "
          f"pool {a.pool_size} per process, {os.cpu_count()} cores\n")
    print("| processes | pgrouter TPS | PgBouncer TPS | pgrouter / PgBouncer | notes |")
    print("| --- | --- | --- | --- | --- |")
    for n, r_tps, b_tps, note in rows:
        print(f"| {n} | {r_tps:.0f} | {b_tps:.0f} | {r_tps / b_tps:.2f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
