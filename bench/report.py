"""The report of a bench run: results.md (tables, goals) and results.csv, rounds.csv.

Reads what bench.py measured (ctx) and the per-target summaries it computed; measures
nothing itself."""
import csv
import math
import os
import platform
import resource
import subprocess

from common import (BROADCAST_HINT, BROADCAST_SQL, LARGE_ROWS, LARGE_WIDTH, PGBIN,
                    PGBENCH_VARIANTS, ROOT, fmt, ratio)


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


def write_report(ctx, summaries):
    """Write results.md, results.csv and rounds.csv into ctx.results; return the Markdown.
    SUMMARIES: {variant: {target: summary}} as bench.summarize_pgbench makes them."""
    md = [f"# pgrouter benchmark, {ctx.started}", ""] + machine_lines(ctx) + [""]
    csv_rows = []

    md += ["## Throughput and latency (workloads 1–3)", "",
           "Median over the rounds without errors (a run with aborted clients or failed "
           "transactions is counted under failed rounds, its first error in notes). p99 = 99th "
           "percentile (nearest rank) of every transaction's latency in one run, from `pgbench "
           "--log`; the table shows the median of the rounds' p99s. CPU = the proxy's "
           "utime+stime (/proc/PID/stat) per 10,000 transactions.", "",
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
            if v in ("large", "router", "broadcast"):
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
                      f"{fmt(x['cpu_per_10k'], 3) if t != 'direct' else ''} | "
                      f"{x['spread'] or ('' if t == 'direct' else 'not measured by --quick')} | "
                      f"{x['failed_rounds']}/{x['rounds']} | {x['notes']} |")
            # The csv row was written by the loop above; add the spread to its notes.
            for c in csv_rows:
                if c["variant"] == "router" and c["target"] == t:
                    c["notes"] = "; ".join(filter(None, [x["spread"], x["notes"]]))
        md.append("")
    else:
        md += ["Router: not run (select it with --only 6 or run all workloads).", ""]
    if "broadcast" in summaries:
        s = summaries["broadcast"]
        d = s.get("direct", {})
        md += [f"Broadcast latency: `{BROADCAST_HINT} {BROADCAST_SQL}` with pgbench -c 1 through "
               "a pgrouter in front of the first 1, 2, 3 nodes (pg1, pg2, pg3), and the same "
               f"statement on pg1 directly; {ctx.broadcast_note}.", "",
               "| target | TPS | latency median ms | added median ms | latency p99 ms "
               "| added p99 ms | CPU s / 10k tx | failed rounds | notes |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for t, x in s.items():
            am = x["lat_med_ms"] - d.get("lat_med_ms", float("nan"))
            ap = x["lat_p99_ms"] - d.get("lat_p99_ms", float("nan"))
            md.append(f"| {t} | {fmt(x['tps'], 0)} | {fmt(x['lat_med_ms'], 3)} | "
                      f"{fmt(am, 3) if t != 'direct' else ''} | {fmt(x['lat_p99_ms'], 3)} | "
                      f"{fmt(ap, 3) if t != 'direct' else ''} | "
                      f"{fmt(x['cpu_per_10k'], 3) if t != 'direct' else ''} | "
                      f"{x['failed_rounds']}/{x['rounds']} | {x['notes']} |")
        md.append("")
    else:
        note = getattr(ctx, "broadcast_note", "not run (select it with --only 6)")
        md += [f"Broadcast latency over 1, 2, 3 nodes: {note}.", ""]
        csv_rows.append({"workload": 6, "variant": "broadcast", "target": "pgrouter",
                         "notes": note})

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

    few = f" ({ctx.rounds} round{'s' if ctx.rounds > 1 else ''} only: noise)" if ctx.rounds < 3 else ""

    def verdict(ok):
        return "not measured" if ok is None else ("met" if ok else "not met") + few

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
