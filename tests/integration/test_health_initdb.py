"""Health checks against a node made as production servers are: `initdb -U bench` (there is no
`postgres` role at all) with scram-sha-256 for every login in its pg_hba.conf. With
`health.user: bench` and its password the node is healthy within 2 s of pgrouter's start and
serves clients; without those keys it stays unhealthy, the log says why once (not on every
retry) and SHOW NODES names the cause and the keys to set.

The node is made here, not by tests/cluster.sh (whose template has a `postgres` superuser):
initdb and pg_ctl run as the postgres OS user, the server listens on 127.0.0.1 only with its
socket in its own dir, and it is stopped and its dir removed when the test ends."""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from conftest import free_port, wait_port

PGBIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "bench-Pw-0815"
HINT = "health checks cannot log in"


def as_pg(*cmd):
    if os.getuid() == 0:
        cmd = ("runuser", "-u", "postgres", "--") + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture
def bench_node():
    d = Path(tempfile.mkdtemp(prefix="pgr-bench-"))
    data = d / "data"
    pid = None
    try:
        if os.getuid() == 0:
            shutil.chown(d, "postgres", "postgres")
        pw = d / "pw"
        pw.write_text(PASSWORD + "\n")
        if os.getuid() == 0:
            shutil.chown(pw, "postgres", "postgres")
        as_pg(f"{PGBIN}/initdb", "-D", str(data), "-U", "bench", "-A", "scram-sha-256",
              f"--pwfile={pw}", "-E", "UTF8", "--locale=C")
        port = free_port()
        with open(data / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                    f"unix_socket_directories = '{d}'\nfsync = off\nshared_buffers = 16MB\n"
                    "max_connections = 30\n")
        # initdb -A scram-sha-256 wrote every line with scram-sha-256; nothing is trusted.
        hba = (data / "pg_hba.conf").read_text()
        assert "trust" not in "\n".join(l for l in hba.splitlines() if not l.startswith("#"))
        as_pg(f"{PGBIN}/pg_ctl", "-D", str(data), "-w", "-t", "60", "-l", str(d / "log"),
              "start")
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield port
    finally:
        if pid is not None:
            try:
                as_pg(f"{PGBIN}/pg_ctl", "-D", str(data), "-w", "-t", "20", "stop", "-m", "fast")
            except subprocess.SubprocessError:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        shutil.rmtree(d, ignore_errors=True)


def config(port, node_port, health=""):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: scram-sha-256
  users: [{{name: bench, password: {PASSWORD}}}]
admin: {{users: [bench]}}
pool: {{mode: transaction, max_size: 4, acquire_timeout: 2s}}
health: {{interval: 300ms, timeout: 1s, unhealthy_threshold: 2,
         backoff: {{initial: 200ms, max: 400ms}}{health}}}
shutdown: {{drain_timeout: 1s}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {node_port}}}
"""


def connect(port, dbname="postgres"):
    return psycopg.connect(f"host=127.0.0.1 port={port} user=bench password={PASSWORD} "
                           f"dbname={dbname}", autocommit=True, connect_timeout=5)


def node(port):
    with connect(port, "pgrouter") as c:
        cur = c.execute("SHOW NODES")
        names = [d.name for d in cur.description]
        return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}["pg1"]


def test_node_without_postgres_role(bench_node, pgrouter_factory):
    # The node itself: no postgres role, and no login without a password.
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(f"host=127.0.0.1 port={bench_node} user=bench dbname=postgres "
                        "password=", connect_timeout=5)
    with pytest.raises(psycopg.OperationalError,
                       match='password authentication failed for user "postgres"'):
        psycopg.connect(f"host=127.0.0.1 port={bench_node} user=postgres dbname=postgres "
                        f"password={PASSWORD}", connect_timeout=5)

    # With health.user and health.password: healthy within 2 s of start.
    port = free_port()
    t0 = time.monotonic()
    p = pgrouter_factory(config(port, bench_node, f", user: bench, password: {PASSWORD}"),
                         port, wait=False, env={"PGPASSWORD": ""})
    wait_port(port, proc=p.proc)
    state = None
    while time.monotonic() - t0 < 2.0:
        state = node(port)["state"]
        if state == "healthy":
            break
        time.sleep(0.05)
    assert state == "healthy", node(port)
    with connect(port) as c:
        assert c.execute("SELECT current_user").fetchone() == ("bench",)
    assert HINT not in p.log_text()
    assert PASSWORD not in p.log_text()
    p.stop()

    # Without those keys: unhealthy, the cause in SHOW NODES, and one log line only.
    port = free_port()
    p = pgrouter_factory(config(port, bench_node), port, env={"PGPASSWORD": ""})
    deadline = time.monotonic() + 10
    while node(port)["state"] not in ("unhealthy", "reconnecting") and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.5)  # several retries (backoff 200-400 ms)
    n = node(port)
    assert n["state"] in ("unhealthy", "reconnecting"), n
    assert n["consecutive_failures"] >= 4, n
    assert "health check login refused (set health.user and health.password)" in \
        n["last_error"], n
    assert "no password supplied" in n["last_error"], n
    hints = [l for l in p.log_text().splitlines() if HINT in l]
    assert len(hints) == 1, hints
    assert 'as user "postgres" to database "postgres" (without a password)' in hints[0]
    assert "Set health.user and health.password" in hints[0]
    # Clients log in (pgrouter authenticates them) and are told why statements fail.
    with connect(port) as c:
        with pytest.raises(psycopg.errors.ConnectionFailure) as e:
            c.execute("SELECT 1")
        assert "health.user and health.password" in str(e.value)
