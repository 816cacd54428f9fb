"""Constants and small helpers shared by bench.py (running) and report.py (tables)."""
import math
import os
import statistics
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
    "broadcast": (6, "broadcast SELECT of pgbench_branches, -c 1",
                  ["-M", "simple", "-c", "1", "-f", "{bcast}"]),
}
BROADCAST_HINT = "/* pgrouter: broadcast */"
BROADCAST_SQL = "SELECT bid, bbalance FROM pgbench_branches"
# Broadcast over the first 1, 2, 3 nodes, each through its own pgrouter; direct runs the same
# statement on pg1 alone (the hint is only a comment there).
BROADCAST_TARGETS = ("direct", "broadcast-1", "broadcast-2", "broadcast-3")
# Workload 6's targets: the primary directly, and pgrouter in front of all three nodes sending
# reads to the replicas (routing.reads: replicas) or to the primary (routing.reads: primary).
ROUTER_TARGETS = ("direct", "pgrouter-replicas", "pgrouter-primary")
WORKLOAD_NAMES = {"select": 1, "tpcb": 2, "churn": 3, "idle": 4, "large": 5, "router": 6,
                  "micro": 7}


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
