"""Many pgrouters as one (issue 18): three processes share one port with listen.reuseport, read
the same YAML with only --instance differing, and forward a CancelRequest to the instance whose
id its key carries. Each instance also listens on its own peers entry (two on TCP, one on a Unix
socket directory, as PgBouncer's peers), which is how the test reaches one instance for sure."""
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from conftest import free_port, wait_port as wait_port_open
from test_server import run_pgbench

CANCEL_CODE = 80877102
IDS = (1, 2, 3)  # not 0: the default must not be what makes it work


# ---- a raw client: psycopg does not expose the cancel key, the protocol does ------------------

def connect_addr(addr, timeout=5.0):
    """addr: (host, port) for TCP, or the path of a Unix socket."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    return s


class Raw:
    """A trust-auth session speaking the v3 protocol by hand; keeps BackendKeyData."""

    def __init__(self, addr, user="app", dbname="app"):
        self.sock = connect_addr(addr, timeout=30)
        self.buf = b""
        body = struct.pack("!i", 196608) + f"user\0{user}\0database\0{dbname}\0\0".encode()
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.pid = self.key = None
        while True:
            t, m = self.msg()
            if t == b"R":
                assert struct.unpack("!i", m[:4])[0] == 0, "expected trust (AuthenticationOk)"
            elif t == b"K":
                self.pid, self.key = struct.unpack("!ii", m)
            elif t == b"E":
                raise RuntimeError(f"login failed: {fields(m)}")
            elif t == b"Z":
                break
        assert self.pid is not None, "no BackendKeyData"

    def msg(self):
        while True:
            if len(self.buf) >= 5:
                n = struct.unpack("!i", self.buf[1:5])[0]
                if len(self.buf) >= n + 1:
                    t, m, self.buf = self.buf[:1], self.buf[5:n + 1], self.buf[n + 1:]
                    return t, m
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("server closed")
            self.buf += d

    def query(self, sql):
        """Run sql; (sqlstate, message) of its error, or (None, rows as text)."""
        q = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", len(q) + 4) + q)
        err, rows = None, []
        while True:
            t, m = self.msg()
            if t == b"E":
                f = fields(m)
                err = (f.get("C"), f.get("M"))
            elif t == b"D":
                rows.append(m)
            elif t == b"Z":
                return err if err else (None, rows)

    def close(self):
        try:
            self.sock.sendall(b"X\0\0\0\4")
        except OSError:
            pass
        self.sock.close()


def fields(m):
    out = {}
    for part in m.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode(errors="replace")
    return out


def send_cancel(addr, pid, key):
    """One CancelRequest on a new connection; returns when the server has closed it."""
    with connect_addr(addr) as s:
        s.sendall(struct.pack("!iiII", 16, CANCEL_CODE, pid & 0xffffffff, key & 0xffffffff))
        try:
            while s.recv(64):
                pass
        except (socket.timeout, ConnectionResetError):
            pass


# ---- the group ----------------------------------------------------------------------------------

class Group:
    def __init__(self, cluster, pgrouter_factory, workers=False):
        self.cluster = cluster
        self.port = free_port()
        self.own = {}
        self.sockdir = tempfile.mkdtemp(prefix="pgr-peer-")
        p1, p2 = free_port(), free_port()
        while len({self.port, p1, p2}) < 3:
            p2 = free_port()
        # instance 3's own address is a Unix socket directory, on the shared port number
        self.own = {1: ("127.0.0.1", p1), 2: ("127.0.0.1", p2),
                    3: f"{self.sockdir}/.s.PGSQL.{self.port}"}
        node = "\n".join(f"  - {{id: {n}, host: 127.0.0.1, port: {cluster.port(n)}}}"
                         for n in cluster.nodes)
        self.config = f"""
listen: {{host: 127.0.0.1, port: {self.port}, reuseport: true}}
auth: {{method: trust}}
admin: {{users: [admin]}}
pool: {{mode: transaction, max_size: 20, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: info}}
peers:
  - {{id: 1, host: 127.0.0.1, port: {p1}}}
  - {{id: 2, host: 127.0.0.1, port: {p2}}}
  - {{id: 3, host: {self.sockdir}, port: {self.port}}}
nodes:
{node}
"""
        self.procs = {}
        if workers:
            # One command: a parent that forks instances 1, 2, 3.
            self.procs[0] = pgrouter_factory(self.config, self.port,
                                             args=["--workers", "3", "--instance", "1"])
        else:
            for i in IDS:
                # One file, three processes: only --instance differs.
                wait_port = self.own[i][1] if i != 3 else self.port
                self.procs[i] = pgrouter_factory(self.config, wait_port, wait=(i != 3),
                                                 args=["--instance", str(i)])
        deadline = time.monotonic() + 10
        while True:
            try:
                connect_addr(self.own[3]).close()
                break
            except OSError:
                assert all(p.proc.poll() is None for p in self.procs.values()), "exited"
                assert time.monotonic() < deadline, "instance 3 never listened"
                time.sleep(0.05)
        for i in IDS:
            if isinstance(self.own[i], tuple):
                wait_port_open(self.own[i][1])
            wait_served(self.dsn_own(i))

    def dsn_own(self, i, user="app", dbname="app"):
        a = self.own[i]
        if isinstance(a, str):
            return f"host={self.sockdir} port={self.port} user={user} dbname={dbname}"
        return f"host={a[0]} port={a[1]} user={user} dbname={dbname}"

    def dsn_shared(self):
        return f"host=127.0.0.1 port={self.port} user=app dbname=app"

    def admin(self, i, sql):
        with psycopg.connect(self.dsn_own(i, user="admin", dbname="pgrouter"),
                             autocommit=True) as c:
            cur = c.execute(sql)
            names = [d.name for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def stats(self, i):
        return {k: int(v) for k, v in self.admin(i, "SHOW STATS")[0].items()}

    def cleanup(self):
        for p in self.procs.values():
            p.stop()
        shutil.rmtree(self.sockdir, ignore_errors=True)


def wait_served(dsn, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2) as c:
                c.execute("SELECT 1")
                return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def group(cluster_factory, pgrouter_factory):
    g = Group(cluster_factory(1), pgrouter_factory)
    yield g
    g.cleanup()


def instance_of(pid):
    return pid & 1023


# ---- (a) one port, three processes -------------------------------------------------------------

def test_reuseport_spreads_clients_and_pgbench_runs_clean(group):
    g = group
    for i in IDS:
        cfg = {r["key"]: r["value"] for r in g.admin(i, "SHOW CONFIG")}
        assert cfg["instance.id"] == str(i)  # the --instance override, not the file's 0
        assert cfg["listen.reuseport"] == "true"
    before = {i: g.stats(i) for i in IDS}
    conns, served = [], {i: 0 for i in IDS}
    try:
        for _ in range(300):
            c = psycopg.connect(g.dsn_shared(), autocommit=True)
            conns.append(c)
            assert c.execute("SELECT 1").fetchone() == (1,)
            served[instance_of(c.info.backend_pid)] += 1
    finally:
        for c in conns:
            c.close()
    assert sum(served.values()) == 300, served  # no key names an instance outside the group
    assert all(n > 0 for n in served.values()), served
    # What the keys say agrees with what each process counted (+1: the SHOW STATS login).
    after = {i: g.stats(i) for i in IDS}
    for i in IDS:
        assert after[i]["clients_accepted"] - before[i]["clients_accepted"] == served[i] + 1, i

    r = run_pgbench(g.port, "-i", "-q", "-s", "1")
    assert r.returncode == 0, r.stderr
    before = {i: g.stats(i) for i in IDS}
    for args in (("-S",), ("-S", "-M", "prepared")):
        r = run_pgbench(g.port, *args, "-c", "32", "-j", "2", "-T", "5")
        assert r.returncode == 0, f"{args}: {r.stderr[-2000:]}"
        assert "number of failed transactions: 0" in r.stdout, r.stdout
        processed = int(r.stdout.split("number of transactions actually processed: ")[1]
                        .split()[0])
        assert processed > 100, r.stdout
    after = {i: g.stats(i) for i in IDS}
    for i in IDS:  # every process took part
        assert after[i]["queries"] - before[i]["queries"] > 0, i


def test_a_process_without_reuseport_cannot_share_the_port(group, pgrouter_factory):
    """The negative: reuseport is what lets the processes share; a process that does not set it
    is refused the port (and so is a second process claiming an instance's own address)."""
    g = group
    no_reuse = g.config.replace("reuseport: true", "reuseport: false")
    p = pgrouter_factory(no_reuse, g.port, wait=False, args=["--instance", "9"])
    assert p.proc.wait(10) != 0
    assert "address already in use" in p.log_text().lower()
    q = pgrouter_factory(g.config, g.port, wait=False, args=["--instance", "2"])
    assert q.proc.wait(10) != 0
    assert "address already in use" in q.log_text().lower()
    # the group still serves
    wait_served(g.dsn_shared())


# ---- (b) a cancel that lands on the wrong process ------------------------------------------------

def sleep_and_cancel(addr_run, cancel_to):
    """Run pg_sleep(10) in a Raw session on addr_run; once it runs, send its key to cancel_to.
    Returns (error, seconds from the cancel to the error, the session)."""
    s = Raw(addr_run)
    out = {}

    def run():
        out["res"] = s.query("SELECT pg_sleep(10)")
        out["t"] = time.monotonic()

    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.5)  # the statement is on its server by now; a late cancel only makes it slower
    t0 = time.monotonic()
    send_cancel(cancel_to, s.pid, s.key)
    th.join(15)
    assert not th.is_alive(), "the query never ended"
    return out["res"], out["t"] - t0, s


def test_cancel_sent_to_another_instance_is_forwarded(group):
    g, cluster = group, group.cluster
    # The same steps against PostgreSQL directly: what a cancelled pg_sleep answers.
    node = ("127.0.0.1", cluster.port("pg1"))
    direct, dt, s = sleep_and_cancel(node, node)
    s.close()
    assert direct[0] == "57014", direct
    assert dt < 1.0

    a, b, c = 1, 2, 3
    before = {i: g.stats(i) for i in IDS}
    # A's session, cancelled through B's own address and through C's Unix socket.
    for to in (b, c):
        res, dt, s = sleep_and_cancel(g.own[a], g.own[to])
        assert instance_of(s.pid) == a
        assert res == direct, res
        assert dt < 1.0, dt
        # the session survives its cancel, and the server connection went back clean
        assert s.query("SELECT 41 + 1") == (None, [b"\0\x01\0\0\0\x0242"])
        s.close()
    after = {i: g.stats(i) for i in IDS}
    assert after[b]["cancels_to_peers"] - before[b]["cancels_to_peers"] == 1
    assert after[c]["cancels_to_peers"] - before[c]["cancels_to_peers"] == 1
    assert after[a]["cancels_forwarded"] - before[a]["cancels_forwarded"] == 2
    assert after[a]["cancels_to_peers"] == before[a]["cancels_to_peers"]
    for i in IDS:
        assert after[i]["cancels_peer_failed"] == 0
        assert after[i]["cancels_unknown_instance"] == before[i]["cancels_unknown_instance"]

    # Through the shared port, whichever process the kernel picks for the session and for
    # the cancel (new connections, new source ports: over a few rounds most land elsewhere).
    before = {i: g.stats(i) for i in IDS}
    owners = set()
    for _ in range(6):
        res, dt, s = sleep_and_cancel(("127.0.0.1", g.port), ("127.0.0.1", g.port))
        owners.add(instance_of(s.pid))
        assert res == direct, res
        assert dt < 1.0, dt
        s.close()
    after = {i: g.stats(i) for i in IDS}
    # Each reached the instance that owns its session, at most one hop away, and none was lost
    # or dropped on the way. (The owner counts it as forwarded to the node, or, in a rare race
    # seen under load, as ignored; the client saw 57014 either way, asserted above.)
    assert owners <= set(IDS)
    assert sum(after[i]["cancels_to_peers"] - before[i]["cancels_to_peers"] for i in IDS) <= 6
    assert sum(after[i][k] - before[i][k] for i in IDS
               for k in ("cancels_forwarded", "cancels_ignored")) == 6
    for i in IDS:
        for k in ("cancels_unknown_instance", "cancels_peer_failed"):
            assert after[i][k] == before[i][k], (i, k)


def test_cancel_forwarded_once_only(group):
    """A request already forwarded (the bit a peer sets) is never sent on again, even when it
    names yet another instance: peers lists that disagree cannot make a loop."""
    g = group
    s = Raw(g.own[1])
    before = {i: g.stats(i) for i in IDS}
    # marked forwarded, naming instance 1, arriving at 2: dropped at 2, not sent to 1
    send_cancel(g.own[2], s.pid | 0x40000000, s.key)
    # naming an instance no one has: dropped and counted where it arrived
    send_cancel(g.own[2], (s.pid & ~1023) | 77, s.key)
    after = {i: g.stats(i) for i in IDS}
    assert after[2]["cancels_unknown_instance"] - before[2]["cancels_unknown_instance"] == 2
    for i in IDS:
        assert after[i]["cancels_to_peers"] == before[i]["cancels_to_peers"], i
        assert after[i]["cancels_forwarded"] == before[i]["cancels_forwarded"], i
    assert s.query("SELECT 1")[0] is None
    s.close()


# ---- (c) a flood of random keys cancels nothing --------------------------------------------------

def test_random_cancel_keys_cancel_nothing(group):
    g = group
    a, b = 1, 2
    sessions = {i: Raw(g.own[i]) for i in IDS}
    rnd = random.Random(18)
    keys = []
    for _ in range(9_000):  # anything at all
        keys.append((rnd.getrandbits(31), rnd.getrandbits(32)))
    for i in IDS:  # well formed for each instance of the group, wrong key
        for _ in range(300):
            keys.append(((rnd.getrandbits(20) << 10) | i, rnd.getrandbits(32)))
    for i in IDS:  # the live sessions' own pids, with a wrong key
        for _ in range(33):
            k = rnd.getrandbits(32)
            if k == sessions[i].key & 0xffffffff:
                k ^= 1
            keys.append((sessions[i].pid, k))
    keys.append((sessions[a].pid, (sessions[a].key + 1) & 0xffffffff))
    assert len(keys) == 10_000
    rnd.shuffle(keys)
    before = {i: g.stats(i) for i in IDS}

    results, stop = {}, threading.Event()

    def sleeper(i):
        res, n = [], 0
        while not stop.is_set() or n == 0:
            res.append(sessions[i].query("SELECT pg_sleep(3)"))
            n += 1
        results[i] = res

    sleepers = [threading.Thread(target=sleeper, args=(i,)) for i in IDS]
    for t in sleepers:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as ex:  # 8 connections in flight at a time
        list(ex.map(lambda k: send_cancel(g.own[b], *k), keys))
    flood_s = time.monotonic() - t0
    stop.set()
    for t in sleepers:
        t.join(30)
        assert not t.is_alive()
    for i in IDS:  # every pg_sleep(3), through every instance, finished normally
        assert results[i] and all(r == (None, [b"\0\x01\0\0\0\0"]) for r in results[i]), \
            (i, results[i][:3])
    assert flood_s < 120

    # Every request is accounted for where it arrived and, if sent on, where it went.
    deadline = time.monotonic() + 10
    while True:
        after = {i: g.stats(i) for i in IDS}
        d = {i: {k: after[i][k] - before[i][k] for k in after[i]} for i in IDS}
        at_b = (d[b]["cancels_ignored"] + d[b]["cancels_to_peers"]
                + d[b]["cancels_unknown_instance"])
        sent_on = d[b]["cancels_to_peers"]
        taken = sum(d[i]["cancels_ignored"] for i in IDS if i != b)
        if (at_b == 10_000 and taken == sent_on) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert at_b == 10_000, d[b]
    assert taken == sent_on, d
    assert sent_on >= 2 * 300 + 2 * 33, d[b]  # the well-formed ones for the others went on
    assert d[b]["cancels_unknown_instance"] >= 8_000, d[b]
    for i in IDS:
        assert d[i]["cancels_forwarded"] == 0, (i, d[i])  # nothing reached a node
        assert d[i]["cancels_peer_failed"] == 0, (i, d[i])
        if i != b:
            assert d[i]["cancels_to_peers"] == 0, (i, d[i])  # never forwarded twice
            assert d[i]["cancels_unknown_instance"] == 0, (i, d[i])
    for s in sessions.values():
        assert s.query("SELECT 1")[0] is None
        s.close()


# ---- --workers: the same group from one command -------------------------------------------------

def test_workers_one_command(cluster_factory, pgrouter_factory):
    g = Group(cluster_factory(1), pgrouter_factory, workers=True)
    parent = g.procs[0]
    try:
        served = {i: 0 for i in IDS}
        for _ in range(60):
            with psycopg.connect(g.dsn_shared(), autocommit=True) as c:
                c.execute("SELECT 1")
                served[instance_of(c.info.backend_pid)] += 1
        assert all(n > 0 for n in served.values()), served
        res, dt, s = sleep_and_cancel(g.own[1], g.own[2])
        assert res[0] == "57014" and dt < 1.0, (res, dt)
        s.close()

        # SIGHUP to the parent reaches every worker.
        parent.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while parent.log_text().count("SIGHUP received") < 3:
            assert time.monotonic() < deadline, parent.log_text()[-2000:]
            time.sleep(0.1)
        assert parent.log_text().count("SIGHUP received") == 3

        # One worker killed: the parent stays, the others serve the shared port.
        pids = {int(m.group(1)): int(m.group(2)) for m in
                re.finditer(r"instance (\d+): pid (\d+)", parent.log_text())}
        assert sorted(pids) == list(IDS)
        os.kill(pids[2], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "instance 2 (pid" not in parent.log_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert parent.proc.poll() is None
        for _ in range(30):
            with psycopg.connect(g.dsn_shared(), autocommit=True, connect_timeout=5) as c:
                assert c.execute("SELECT 1").fetchone() == (1,)
                assert instance_of(c.info.backend_pid) in (1, 3)

        # SIGTERM to the parent stops the group; one worker died by a signal, so status 1.
        assert parent.stop() == 1
        for i in (1, 3):
            with pytest.raises(ProcessLookupError):
                os.kill(pids[i], 0)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", g.port), timeout=1).close()
    finally:
        g.cleanup()


def test_workers_need_reuseport(pgrouter_factory):
    port = free_port()
    cfg = f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: 1}}
"""
    p = pgrouter_factory(cfg, port, wait=False, args=["--workers", "2"])
    assert p.proc.wait(10) == 1
    assert "--workers 2 needs listen.reuseport: true" in p.log_text()


# ---- behind HAProxy (Debian's, TCP mode) --------------------------------------------------------

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


@pytest.fixture
def haproxy_factory():
    made = []

    def make(cfg_text, port):
        d = tempfile.mkdtemp(prefix="pgr-haproxy-")
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(cfg_text)
        chk = subprocess.run([HAPROXY, "-c", "-q", "-f", cfg], capture_output=True, text=True)
        assert chk.returncode == 0, chk.stderr
        log = open(os.path.join(d, "haproxy.log"), "w")
        proc = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=log, stderr=subprocess.STDOUT)
        made.append((proc, d))
        wait_port_open(port, proc=proc)
        return proc

    yield make
    for proc, d in made:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def haproxy_config(g, port):
    servers = []
    for i in IDS:
        a = g.own[i]
        addr = a if isinstance(a, str) else f"{a[0]}:{a[1]}"
        servers.append(f"    server i{i} {addr} check inter 200ms fall 1 rise 2")
    return f"""
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend pg
    bind 127.0.0.1:{port}
    default_backend pgrouters
backend pgrouters
    balance roundrobin
""" + "\n".join(servers) + "\n"


@pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy is not installed "
                    "(scripts/bootstrap.sh installs it)")
def test_behind_haproxy(group, haproxy_factory):
    g = group
    hport = free_port()
    haproxy_factory(haproxy_config(g, hport), hport)
    wait_served(f"host=127.0.0.1 port={hport} user=app dbname=app")

    r = run_pgbench(hport, "-i", "-q", "-s", "1")
    assert r.returncode == 0, r.stderr
    for args in (("-S",), ("-M", "prepared")):
        r = run_pgbench(hport, *args, "-c", "12", "-j", "2", "-T", "5")
        assert r.returncode == 0, f"{args}: {r.stderr[-2000:]}"
        assert "number of failed transactions: 0" in r.stdout, r.stdout

    # A cancel through the balancer finds its session whichever instance each lands on.
    res, dt, s = sleep_and_cancel(("127.0.0.1", hport), ("127.0.0.1", hport))
    assert res[0] == "57014" and dt < 1.0, (res, dt)
    s.close()

    # One instance killed mid-run: its clients get a connection error and reconnect through
    # HAProxy; every other client goes on without a single error.
    dsn = f"host=127.0.0.1 port={hport} user=app dbname=app connect_timeout=5"
    stop, lock = threading.Event(), threading.Lock()
    report = []  # (first instance, errors, reconnected instance, queries after the kill)
    killed_at = {}

    def client(k):
        errors, n_after, again = [], 0, None
        c = psycopg.connect(dsn, autocommit=True)
        first = instance_of(c.info.backend_pid)
        while not stop.is_set():
            try:
                c.execute("SELECT 1")
                if "t" in killed_at:
                    n_after += 1
            except psycopg.OperationalError as e:
                errors.append(str(e))
                c.close()
                for _ in range(50):  # bounded: the balancer takes the dead one out within ~1 s
                    try:
                        c = psycopg.connect(dsn, autocommit=True)
                        again = instance_of(c.info.backend_pid)
                        break
                    except psycopg.OperationalError:
                        time.sleep(0.1)
            time.sleep(0.01)
        c.close()
        with lock:
            report.append((first, errors, again, n_after))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    g.procs[2].proc.kill()
    g.procs[2].proc.wait()
    killed_at["t"] = time.monotonic()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert len(report) == 12
    on_2 = [r for r in report if r[0] == 2]
    others = [r for r in report if r[0] != 2]
    assert on_2 and others, report  # round robin put clients on every instance
    for first, errors, again, n_after in others:
        assert errors == [], (first, errors)
        assert n_after > 0
    for first, errors, again, n_after in on_2:
        assert len(errors) == 1, errors
        assert again in (1, 3), again  # reconnected to a live instance
        assert n_after > 0
