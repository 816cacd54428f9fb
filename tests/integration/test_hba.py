"""auth.hba_file against PostgreSQL's own decisions. The same pg_hba.conf lines are written into
an "oracle" node's pg_hba.conf (with ssl = on and ::1 added to its listen addresses) and into
pgrouter's hba file; then the same connections — from 127.0.0.1, 127.0.0.2 and 127.0.0.3
(the client binds the source address), ::1 and the Unix socket, in the clear and over TLS,
for several users and databases — are made to both with a raw startup packet, and what each
answers first is compared: the authentication it asks for (which names the method the
matching line chose), AuthenticationOk, or the FATAL error (28000, PostgreSQL's exact text for
"no pg_hba.conf entry" and for a reject line). pgrouter's server connections go to another node
that trusts everyone, so the oracle's rules never decide pgrouter's own logins.

Then real clients log in through pgrouter with each method (md5, scram-sha-256, cleartext
password, trust) and are refused where the lines say; RELOAD with a broken file keeps the old
rules and answers with file:line:col; a fixed file applies at once (RELOAD and SIGHUP)."""
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from conftest import free_port

USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw",
         "admin": "admin-pw"}

HBA = """\
# pgrouter's console (harmless on the oracle: it has no such database)
host    pgrouter   admin      127.0.0.1/32               scram-sha-256
local   all        alice                                 trust
host    all        carol      127.0.0.3/32               reject
host    app,other  alice,bob  127.0.0.1/32               md5
host    other      all        127.0.0.2 255.255.255.255  scram-sha-256
hostnossl "app"    carol      127.0.0.2/32               password
host    sameuser   all        127.0.0.0/24               trust
host    "all"      bob        127.0.0.0/8                password   # a database named all
host    all        dave       ::1/128                    md5
host    app        all        127.0.0.2/32               reject
hostssl all        all        127.0.0.0/8                scram-sha-256
"""

# (how, source address or host, user, database): how is tcp, ssl or local.
CASES = [
    ("tcp", "127.0.0.1", "alice", "app"),     # md5
    ("tcp", "127.0.0.1", "bob", "other"),     # md5
    ("tcp", "127.0.0.1", "bob", "all"),       # password ("all" quoted is a name)
    ("tcp", "127.0.0.1", "bob", "app"),       # md5 (line 5 first)
    ("tcp", "127.0.0.1", "carol", "app"),     # no entry: only hostssl is left
    ("ssl", "127.0.0.1", "carol", "app"),     # hostssl: scram
    ("tcp", "127.0.0.3", "carol", "app"),     # reject
    ("ssl", "127.0.0.3", "carol", "other"),   # reject comes first
    ("tcp", "127.0.0.2", "alice", "other"),   # scram, address/netmask form
    ("tcp", "127.0.0.2", "carol", "app"),     # hostnossl: password
    ("ssl", "127.0.0.2", "carol", "app"),     # not hostnossl; app from 127.0.0.2: reject
    ("tcp", "127.0.0.2", "erin", "app"),      # reject, unknown role too
    ("tcp", "127.0.0.1", "dave", "dave"),     # sameuser: trust, logs in
    ("tcp", "127.0.0.1", "erin", "erin"),     # sameuser: trust, but no such role
    ("tcp", "127.0.0.3", "dave", "nope"),     # no entry
    ("ssl", "127.0.0.3", "dave", "nope"),     # hostssl: scram
    ("tcp", "::1", "dave", "app"),            # md5
    ("tcp", "::1", "alice", "app"),           # no entry for host "::1"
    ("ssl", "::1", "alice", "app"),           # hostssl is 127.0.0.0/8 only: no entry
    ("local", None, "alice", "app"),          # trust, logs in
    ("local", None, "bob", "app"),            # no entry for host "[local]"
]

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def first_reply(sock_addr, user, db, source=None, use_ssl=False, family=socket.AF_INET):
    """Send a startup packet and tell what the server does first: ("auth", code) for an
    authentication request, ("ok",) for AuthenticationOk followed by ReadyForQuery, or
    ("error", sqlstate, message)."""
    if family == socket.AF_UNIX:
        s = socket.socket(socket.AF_UNIX)
    else:
        s = socket.socket(family)
        if source:
            s.bind((source, 0))
    s.settimeout(10)
    s.connect(sock_addr)
    try:
        if use_ssl:
            s.sendall(SSL_REQUEST)
            assert s.recv(1) == b"S"
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        body = struct.pack("!i", 196608) + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0" for k, v in
            (("user", user), ("database", db))) + b"\0"
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        buf = b""
        authed = False
        while True:
            while len(buf) < 5 or len(buf) < 1 + struct.unpack("!i", buf[1:5])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    return ("closed",)
                buf += chunk
            t, n = buf[0:1], struct.unpack("!i", buf[1:5])[0]
            msg, buf = buf[5:1 + n], buf[1 + n:]
            if t == b"R":
                code = struct.unpack("!i", msg[:4])[0]
                if code != 0:
                    return ("auth", code)
                authed = True
            elif t == b"E":
                fields = {f[:1].decode(): f[1:].decode() for f in msg.split(b"\0") if f}
                return ("error", fields.get("C"), fields.get("M"))
            elif t == b"Z":
                return ("ok",) if authed else ("Z without auth",)
    finally:
        s.close()


def make_certs(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out",
                    "server.crt", "-days", "2", "-subj", "/CN=127.0.0.1"],
                   cwd=d, check=True, capture_output=True, timeout=60)
    for f in ("server.key", "server.crt"):
        Path(d, f).chmod(0o600)


@pytest.fixture(scope="module")
def setup():
    """pg1: the oracle, with the test's pg_hba.conf, ssl on, ::1; pg2: pgrouter's node."""
    from conftest import Cluster
    cluster = Cluster(2)
    certs = Path(tempfile.mkdtemp(prefix="pgr-hba-certs-"))
    try:
        make_certs(certs)
        data = Path(cluster.dir, "pg1")
        for f in ("server.key", "server.crt"):
            shutil.copy(certs / f, data / f)
            if os.getuid() == 0:
                shutil.chown(data / f, "postgres", "postgres")
            (data / f).chmod(0o600)
        with psycopg.connect(host=cluster.dir, port=cluster.port("pg1"), user="postgres",
                             dbname="postgres", autocommit=True) as c:
            c.execute("SET password_encryption = 'md5'")
            for u, pw in USERS.items():
                c.execute(f"CREATE ROLE {u} LOGIN PASSWORD '{pw}'")
            c.execute("CREATE DATABASE other")
            c.execute("CREATE DATABASE dave")
            c.execute("CREATE DATABASE \"all\"")
            c.execute("ALTER SYSTEM SET listen_addresses = '127.0.0.1,::1'")
            c.execute("ALTER SYSTEM SET ssl = on")
        (data / "pg_hba.conf").write_text(HBA)
        cluster.fault("restart", "pg1")
        yield cluster, certs
    finally:
        cluster.stop()
        shutil.rmtree(certs, ignore_errors=True)


def config(cluster, port, certs, sockdir, hba="hba.conf"):
    users = ", ".join(f"{{name: {u}, password: {pw}}}" for u, pw in USERS.items())
    return f"""
listen: {{host: [127.0.0.1, "::1"], port: {port}, unix_socket_dir: {sockdir}}}
tls: {{mode: prefer, cert: {certs / 'server.crt'}, key: {certs / 'server.key'}}}
auth:
  method: scram-sha-256
  hba_file: {hba}
  users: [{users}]
admin: {{users: [admin]}}
pool: {{mode: transaction, max_size: 4}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: info}}
nodes:
  - {{id: pg2, host: 127.0.0.1, port: {cluster.port('pg2')}, user: postgres, dbname: app}}
"""


@pytest.fixture
def router(setup, pgrouter_factory):
    cluster, certs = setup
    port = free_port()
    sockdir = tempfile.mkdtemp(prefix="pgr-hba-sock-")
    d = Path(tempfile.mkdtemp(prefix="pgr-hba-file-"))
    hba = d / "hba.conf"
    hba.write_text(HBA)
    p = pgrouter_factory(config(cluster, port, certs, sockdir, hba=hba), port)
    yield p, port, sockdir, hba
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(sockdir, ignore_errors=True)


def v6_ok(port):
    try:
        with socket.create_connection(("::1", port), timeout=2):
            return True
    except OSError:
        return False


def ask(how, addr, user, db, port, sockdir):
    if how == "local":
        return first_reply(os.path.join(sockdir, f".s.PGSQL.{port}"), user, db,
                           family=socket.AF_UNIX)
    if ":" in addr:
        return first_reply(("::1", port), user, db, use_ssl=how == "ssl",
                           family=socket.AF_INET6)
    return first_reply(("127.0.0.1", port), user, db, source=addr, use_ssl=how == "ssl")


def test_same_decisions_as_postgresql(setup, router):
    cluster, _ = setup
    p, port, sockdir, _ = router
    oracle = cluster.port("pg1")
    have_v6 = v6_ok(oracle) and v6_ok(port)
    outcomes = set()
    for how, addr, user, db in CASES:
        if addr and ":" in addr and not have_v6:
            continue
        want = ask(how, addr, user, db, oracle, cluster.dir)
        got = ask(how, addr, user, db, port, sockdir)
        assert got == want, (how, addr, user, db)
        outcomes.add(want[:2] if want[0] != "error" else want[2].split(" for host")[0])
    # The table covers every outcome, so it cannot pass by answering one thing.
    assert outcomes >= {("auth", 5), ("auth", 10), ("auth", 3), ("ok",), "no pg_hba.conf entry",
                        "pg_hba.conf rejects connection"}, outcomes
    assert have_v6 or os.environ.get("PGR_NO_IPV6"), "::1 cases not compared"


def test_real_clients_per_method(router):
    p, port, sockdir, _ = router

    def conn(user, db="app", sslmode="disable", password=None):
        return psycopg.connect(f"host=127.0.0.1 port={port} user={user} dbname={db} "
                               f"sslmode={sslmode} password={password or USERS.get(user, 'x')}",
                               autocommit=True, connect_timeout=5)

    with conn("alice") as c:                         # md5
        assert c.execute("SELECT 1").fetchone() == (1,)
    with conn("bob", db="all") as c:                 # cleartext password
        assert c.execute("SELECT 2").fetchone() == (2,)
    with conn("carol", sslmode="require") as c:      # hostssl scram
        assert c.execute("SELECT 3").fetchone() == (3,)
    with conn("dave", db="dave") as c:               # sameuser trust, no password asked
        assert c.execute("SELECT 4").fetchone() == (4,)
    with pytest.raises(psycopg.OperationalError) as e:
        conn("bob", db="all", password="wrong")
    assert 'password authentication failed for user "bob"' in str(e.value)
    with pytest.raises(psycopg.OperationalError) as e:
        conn("carol")                                # only hostssl matches carol
    assert ('no pg_hba.conf entry for host "127.0.0.1", user "carol", database "app", '
            'no encryption') in str(e.value)
    # A Unix-socket client: alice by the local line, bob by none.
    with psycopg.connect(host=sockdir, port=port, user="alice", dbname="app",
                         autocommit=True) as c:
        assert c.execute("SELECT 5").fetchone() == (5,)
    with pytest.raises(psycopg.OperationalError) as e:
        psycopg.connect(host=sockdir, port=port, user="bob", dbname="app", password="bob-pw")
    assert 'no pg_hba.conf entry for host "[local]", user "bob"' in str(e.value)


def admin(port, sql):
    with psycopg.connect(f"host=127.0.0.1 port={port} user=admin password=admin-pw "
                         "dbname=pgrouter sslmode=disable", autocommit=True) as a:
        return a.execute(sql)


def test_reload_keeps_old_rules_on_a_bad_file(router):
    p, port, sockdir, hba = router
    alice = ("tcp", "127.0.0.1", "alice", "app")
    assert ask(*alice, port, sockdir) == ("auth", 5)

    hba.write_text(HBA + "host all all 127.0.0.1 md5\n")  # no netmask
    with pytest.raises(psycopg.errors.ConfigFileError) as e:
        admin(port, "RELOAD")
    detail = e.value.diag.message_detail
    assert f"{hba}:13:24: invalid IP mask \"md5\"" in detail, detail
    assert ask(*alice, port, sockdir) == ("auth", 5)    # the old rules still decide
    p.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while f"{hba}:13:24" not in p.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"{hba}:13:24: invalid IP mask" in p.log_text()
    assert p.proc.poll() is None
    assert ask(*alice, port, sockdir) == ("auth", 5)

    # A good file: alice is now rejected from 127.0.0.1 (RELOAD), then let in again (SIGHUP).
    hba.write_text(HBA.replace("local   all        alice",
                               "host    app        alice      127.0.0.1/32  reject\n"
                               "local   all        alice"))
    admin(port, "RELOAD")
    got = ask(*alice, port, sockdir)
    assert got[0:2] == ("error", "28000"), got
    assert got[2] == ('pg_hba.conf rejects connection for host "127.0.0.1", user "alice", '
                      'database "app", no encryption')
    hba.write_text(HBA)
    p.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while ask(*alice, port, sockdir) != ("auth", 5) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ask(*alice, port, sockdir) == ("auth", 5)
