"""Lines a remote party can cause are rate-limited: 10,000 random CancelRequests, 2,000 bad
startup packets and 500 refused logins write a few dozen lines, not thousands, and the counts
they give ("last message repeated N more times") add up to every one of them; the real
session's cancel still works and is not lost in the flood."""
import random
import re
import socket
import struct
import threading
import time

import psycopg

from conftest import free_port
from test_admin import wait_for

BURST, WINDOW_S = 10, 10  # core/log.h: PGR_LOG_LIMIT_BURST, PGR_LOG_LIMIT_WINDOW_MS


def config(cluster, port):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: md5
  users:
    - {{name: app, password: apppass}}
    - {{name: admin, password: adminpass}}
admin: {{users: [admin]}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port("pg1")}, user: postgres}}
"""


def send_raw(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            pass


def accounted(log, needle):
    """(lines written whole, lines counted in summaries) for the lines containing needle."""
    written = [l for l in log.splitlines() if needle in l and "last message repeated" not in l]
    counted = sum(int(m.group(1)) for m in re.finditer(
        r"last message repeated (\d+) more times within \d+ s \(at most \d+ written per \d+ s\): "
        r"[^\n]*" + re.escape(needle), log))
    summaries = len(re.findall(r"last message repeated \d+ more times[^\n]*" + re.escape(needle),
                               log))
    return len(written), counted, summaries


def test_floods_from_clients_write_a_few_lines(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    port = free_port()
    p = pgrouter_factory(config(cluster, port), port)
    adm = f"host=127.0.0.1 port={port} user=admin password=adminpass dbname=pgrouter"
    wait_for("pg1 healthy", lambda: psycopg.connect(adm, autocommit=True).execute(
        "SHOW NODES").fetchone()[5] == "healthy")
    started = time.monotonic()
    rnd = random.Random(16)
    n_cancel, n_startup, n_login = 10_000, 2_000, 500
    for _ in range(n_cancel):
        send_raw(port, struct.pack("!iiii", 16, 80877102, rnd.getrandbits(31),
                                   rnd.getrandbits(31)))
    for _ in range(n_startup):
        send_raw(port, struct.pack("!i", 10_001 + 4) + b"\0" * 16)
    for _ in range(n_login):
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=app password=wrong dbname=app",
                            connect_timeout=5).close()
            raise AssertionError("a wrong password logged in")
        except psycopg.OperationalError as e:
            assert "password authentication failed" in str(e)
    # A real session still gets its cancel through, amid the noise.
    with psycopg.connect(f"host=127.0.0.1 port={port} user=app password=apppass dbname=app",
                         autocommit=True) as c:
        t0 = time.monotonic()
        threading.Timer(0.5, c.cancel).start()
        try:
            c.execute("SELECT pg_sleep(10)")
            raise AssertionError("not canceled")
        except psycopg.errors.QueryCanceled:
            pass
        assert time.monotonic() - t0 < 5
    with psycopg.connect(adm, autocommit=True) as a:
        cur = a.execute("SHOW STATS")
        stats = dict(zip([d.name for d in cur.description], cur.fetchone()))
    assert int(stats["cancels_ignored"]) == n_cancel, stats
    elapsed = time.monotonic() - started
    # SIGTERM: the counts still pending are written before pgrouter stops.
    assert p.stop() == 0
    log = p.log_text()
    windows = int(elapsed // WINDOW_S) + 2
    for needle, n in (("cancel request for unknown session or wrong key ignored", n_cancel),
                      ("invalid length of startup packet", n_startup),
                      ("password authentication failed for user", n_login)):
        written, counted, summaries = accounted(log, needle)
        # Every line is either written or counted, and at most BURST a window are written.
        assert written + counted == n, (needle, written, counted, log[-3000:])
        assert 1 <= written <= BURST * windows and summaries <= windows, (needle, written,
                                                                         summaries)
    lines = log.count("\n")
    assert lines < 250, f"{lines} log lines for {n_cancel + n_startup + n_login} bad requests"
