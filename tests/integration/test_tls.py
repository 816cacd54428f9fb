"""Client-facing TLS: psql, psycopg, pgbench and raw sockets against pgrouter with tls.* set.

A self-signed certificate (CN and subjectAltName 127.0.0.1) is made with the openssl CLI in a
temp dir; it is its own root for sslmode=verify-ca / verify-full.
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import psycopg
import pytest

from conftest import Cluster, free_port

PGBIN = "/usr/lib/postgresql/15/bin"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
GSSENC_REQUEST = struct.pack("!ii", 8, 80877104)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs():
    d = Path(tempfile.mkdtemp(prefix="pgr-tls-"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "server.key", "-out", "server.crt", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    # A second key that does not match server.crt, and server.key under a passphrase.
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-out", "other.key", cwd=d)
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret",
            "-out", "encrypted.key", cwd=d)
    Path(d, "garbage.key").write_text("this is not a key\n")
    for f in d.iterdir():
        f.chmod(0o600)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def node():
    c = Cluster(1)
    yield c
    c.stop()


def config(node, port, certs, mode="prefer", key="server.key", auth="trust", users="",
           extra=""):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
tls: {{mode: {mode}, cert: {certs / 'server.crt'}, key: {certs / key}}}
auth:
  method: {auth}
{users}
admin: {{users: [admin]}}
pool: {{mode: transaction, max_size: 20, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: info}}
{extra}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {node.port('pg1')}}}
"""


def dsn(port, sslmode, certs=None, user="app", dbname="app", **kw):
    s = f"host=127.0.0.1 port={port} user={user} dbname={dbname} sslmode={sslmode}"
    if certs is not None:
        s += f" sslrootcert={certs / 'server.crt'}"
    for k, v in kw.items():
        s += f" {k}={v}"
    return s


def wait_healthy(port, sslmode="prefer", timeout=10):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port, sslmode), connect_timeout=2) as c:
                c.execute("SELECT 1")
                return
        except psycopg.Error as e:
            last = e
            time.sleep(0.1)
    raise TimeoutError(f"pgrouter on {port} never served a query: {last}")


@pytest.fixture
def start(node, certs, pgrouter_factory):
    """start(mode=..., key=..., ...) -> a running pgrouter with tls set, serving queries."""
    def make(mode="prefer", wait=True, env=None, **kw):
        port = free_port()
        p = pgrouter_factory(config(node, port, certs, mode=mode, **kw), port, wait=wait,
                             env=env)
        if wait:
            wait_healthy(port, "require" if mode == "require" else "prefer")
        return p
    return make


def psql(port, sslmode, sql, certs=None, check=True):
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    env.pop("PGPASSWORD", None)
    return subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", dsn(port, sslmode, certs)],
                          input=sql, capture_output=True, text=True, env=env, check=check,
                          timeout=60)


# ---- raw protocol helpers -----------------------------------------------------------------

def startup_packet(user="app", database="app", **params):
    body = struct.pack("!i", 196608)
    for k, v in dict(user=user, database=database, **params).items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_msg(s):
    hdr = recv_exact(s, 5)
    n = struct.unpack("!i", hdr[1:])[0]
    return hdr[:1], recv_exact(s, n - 4)


def error_fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def closed_by_peer(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def tls_connect(port, certs, **ctxopts):
    """A raw TLS connection after SSLRequest / 'S', verifying the certificate."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    ctx = ssl.create_default_context(cafile=str(certs / "server.crt"))
    for k, v in ctxopts.items():
        setattr(ctx, k, v)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def login(s, **params):
    s.sendall(startup_packet(**params))
    while True:
        t, body = read_msg(s)
        if t == b"E":
            raise AssertionError(f"login failed: {error_fields(body)}")
        if t == b"Z":
            return


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- tests --------------------------------------------------------------------------------

SCRIPT = r"""
\pset null '<null>'
SELECT 1 AS one, 'two' AS two, NULL AS three;
SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
BEGIN;
CREATE TEMP TABLE IF NOT EXISTS tt (a int);
INSERT INTO tt SELECT generate_series(1, 10);
SELECT sum(a) FROM tt;
ROLLBACK;
SELECT repeat('y', 100000) AS big;
\copy (SELECT g FROM generate_series(1, 5000) g) TO STDOUT
"""


def test_psql_require_verify_ca_verify_full_equal_plain(start, certs):
    p = start()
    plain = psql(p.port, "disable", SCRIPT)
    assert "5000" in plain.stdout and "big" in plain.stdout
    for mode in ("require", "verify-ca", "verify-full"):
        r = psql(p.port, mode, SCRIPT, certs=certs if mode != "require" else None)
        assert r.stdout == plain.stdout, mode
    info = psql(p.port, "verify-full", "\\conninfo", certs=certs)
    assert "SSL connection (protocol: TLSv1.3" in info.stdout, info.stdout


def test_psycopg_over_tls_equals_plain(start, certs):
    p = start()
    sql = "SELECT g, md5(g::text), repeat(chr(65 + g % 26), g % 300) FROM generate_series(1, 30000) g"
    with psycopg.connect(dsn(p.port, "disable")) as c:
        assert not c.pgconn.ssl_in_use
        want = c.execute(sql).fetchall()
    with psycopg.connect(dsn(p.port, "verify-ca", certs)) as c:
        assert c.pgconn.ssl_in_use
        assert c.execute(sql).fetchall() == want
        # Extended protocol, many round trips on one TLS session.
        for i in range(200):
            assert c.execute("SELECT %s::int + 1", (i,)).fetchone()[0] == i + 1
        # A COPY in over TLS, then read back.
        c.execute("CREATE TEMP TABLE cp (a int, b text)")
        with c.cursor().copy("COPY cp FROM STDIN") as cp:
            for i in range(20000):
                cp.write_row((i, "x" * (i % 50)))
        assert c.execute("SELECT count(*), sum(a) FROM cp").fetchone() == (20000, 199990000)


def test_scram_over_tls(start, certs):
    users = "  users:\n    - {name: app, password: s3cret}\n    - {name: admin, password: a}\n"
    p = start(auth="scram-sha-256", users=users, wait=False)
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(dsn(p.port, "verify-full", certs, password="s3cret")) as c:
                assert c.pgconn.ssl_in_use
                assert c.execute("SELECT current_user").fetchone()[0] == "app"
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or p.proc.poll() is not None:
                raise AssertionError(p.log_text())
            time.sleep(0.2)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn(p.port, "require", password="wrong"))


def test_pgbench_over_tls_transaction_mode(start):
    p = start()
    env = dict(os.environ, PGSSLMODE="require")

    def pgbench(*args):
        return subprocess.run([f"{PGBIN}/pgbench", "-h", "127.0.0.1", "-p", str(p.port), "-U",
                               "app", *args, "app"], capture_output=True, text=True, env=env,
                              timeout=120)
    r = pgbench("-i", "-q", "-s", "1")
    assert r.returncode == 0, r.stderr
    for proto in ("simple", "prepared"):
        r = pgbench("-M", proto, "-c", "4", "-j", "2", "-T", "3")
        assert r.returncode == 0, r.stderr[-2000:]
        assert "number of failed transactions: 0" in r.stdout, r.stdout
        done = int(r.stdout.split("number of transactions actually processed: ")[1].split()[0])
        assert done > 50, r.stdout
    # New TLS connection per transaction (handshake on every one).
    r = pgbench("-C", "-S", "-c", "4", "-j", "2", "-T", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "number of failed transactions: 0" in r.stdout, r.stdout


def test_large_result_over_tls_read_slowly_keeps_memory_bounded(start, certs):
    sanitized = "asan" in str(os.environ.get("PGR_BUILD_DIR", ""))
    env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"} if sanitized else None
    p = start(env=env)
    start_rss = rss_kib(p.proc.pid)
    mb = 50
    rows = mb * 1024 * 1024 // 1000
    s = tls_connect(p.port, certs)
    login(s)
    q = f"SELECT repeat('x', 990) FROM generate_series(1, {rows})".encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!i", len(q) + 4) + q)
    total, peak, tail = 0, 0, b""
    t0 = time.monotonic()
    last = 0.0
    while True:
        slow = time.monotonic() - t0 < 3.0
        chunk = s.recv(4096 if slow else 1 << 20)
        if not chunk:
            break
        total += len(chunk)
        tail = (tail + chunk)[-64:]
        if slow:
            time.sleep(0.01)
        if time.monotonic() - last > 0.1:
            last = time.monotonic()
            peak = max(peak, rss_kib(p.proc.pid))
        if tail.endswith(b"Z\0\0\0\x05I"):
            break
    s.close()
    print(f"TLS large result: {total} bytes, RSS {start_rss} -> peak {peak} KiB")
    assert total > mb * 1024 * 1024 * 0.95, total
    # Plaintext and ciphertext waiting for the client stay near PGR_CLIENT_OUT_HIGH (512 KiB).
    grew = peak - start_rss
    assert grew < (24 if sanitized else 8) * 1024, f"pgrouter RSS grew {grew} KiB"


def test_require_refuses_a_plain_client_with_28000(start, certs):
    p = start(mode="require")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(startup_packet())
    t, body = read_msg(s)
    assert t == b"E"
    f = error_fields(body)
    assert (f["S"], f["C"], f["M"]) == ("FATAL", "28000", "SSL required")
    assert closed_by_peer(s)
    s.close()
    r = psql(p.port, "disable", "SELECT 1", check=False)
    assert r.returncode != 0 and "SSL required" in r.stderr, r.stderr
    # sslmode=prefer and require go through over TLS.
    with psycopg.connect(dsn(p.port, "prefer")) as c:
        assert c.pgconn.ssl_in_use and c.execute("SELECT 7").fetchone()[0] == 7
    # A CancelRequest needs no TLS (as PostgreSQL): it is taken and the connection closed.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(struct.pack("!iiii", 16, 80877102, 1, 2))
    assert closed_by_peer(s)
    s.close()
    # The admin console is under the same rule.
    with pytest.raises(psycopg.OperationalError, match="SSL required"):
        psycopg.connect(dsn(p.port, "disable", user="admin", dbname="pgrouter"))


@pytest.mark.parametrize("mode", ["prefer", "allow"])
def test_prefer_and_allow_serve_both(start, certs, mode):
    p = start(mode=mode)
    with psycopg.connect(dsn(p.port, "disable")) as a, \
         psycopg.connect(dsn(p.port, "verify-full", certs)) as b:
        assert not a.pgconn.ssl_in_use and b.pgconn.ssl_in_use
        assert a.execute("SELECT 'plain'").fetchone()[0] == "plain"
        assert b.execute("SELECT 'tls'").fetchone()[0] == "tls"


def test_disable_answers_n_even_with_a_cert(start):
    p = start(mode="disable")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"N"
    login(s)  # and the client goes on in the clear
    s.close()
    with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
        psycopg.connect(dsn(p.port, "require"))


@pytest.mark.parametrize("key,expect", [
    ("other.key", "does not match the certificate"),
    ("garbage.key", "cannot load a PEM private key"),
    ("encrypted.key", "cannot load a PEM private key"),
    ("missing.key", "cannot load a PEM private key"),
])
def test_bad_key_fails_at_start_with_a_clear_message(start, key, expect):
    p = start(key=key, wait=False)
    try:
        rc = p.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail("pgrouter kept running with a bad tls.key")
    log = p.log_text()
    assert rc == 1, (rc, log)  # an exit, not a signal
    assert "cannot set up TLS" in log and expect in log and key in log, log


def test_bad_cert_fails_at_start(node, certs, pgrouter_factory):
    port = free_port()
    text = config(node, port, certs).replace(str(certs / "server.crt"), str(certs / "nope.crt"))
    p = pgrouter_factory(text, port, wait=False)
    assert p.proc.wait(15) == 1
    assert "tls.cert" in p.log_text() and "nope.crt" in p.log_text(), p.log_text()


def test_bytes_pipelined_after_sslrequest_are_refused(start, certs):
    p = start()
    # A startup packet (or anything else) sent before reading the answer: refused in the
    # clear with 08P01, never answered 'S', never read as TLS or as a startup.
    for extra in (startup_packet(), b"\x16\x03\x01\x00\x05hello"):
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        s.sendall(SSL_REQUEST + extra)
        t, body = read_msg(s)
        assert t == b"E", t
        f = error_fields(body)
        assert (f["S"], f["C"]) == ("FATAL", "08P01")
        assert "after SSL request" in f["M"], f
        assert closed_by_peer(s)
        s.close()
    # Nothing is left behind: the router still serves TLS clients.
    with psycopg.connect(dsn(p.port, "require")) as c:
        assert c.execute("SELECT 1").fetchone()[0] == 1


def test_sslrequest_inside_tls_and_gssenc(start, certs):
    p = start()
    s = tls_connect(p.port, certs)
    s.sendall(SSL_REQUEST)
    t, body = read_msg(s)
    assert t == b"E" and error_fields(body)["C"] == "08P01"
    s.close()
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(GSSENC_REQUEST)
    assert recv_exact(s, 1) == b"N"
    s.sendall(SSL_REQUEST)  # libpq's order: GSSAPI first, then SSL
    assert recv_exact(s, 1) == b"S"
    s.close()


def test_failed_and_stalled_handshakes_are_dropped(start, certs):
    p = start(extra="limits: {login_timeout: 1s}")
    # Garbage instead of a ClientHello: closed; a client that does not trust the certificate
    # aborts the handshake itself.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 4)
    assert closed_by_peer(s)
    s.close()
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(s, server_hostname="127.0.0.1")
    s.close()
    # TLS 1.1 is refused by the server (the client allows it); TLS 1.2 is served.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    # Offering the deprecated versions is the point here: Python's warning about naming them
    # is expected, and kept out of the test report.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        old.wrap_socket(s, server_hostname="127.0.0.1")
    s.close()
    s = tls_connect(p.port, certs, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert s.version() == "TLSv1.2"
    login(s)
    s.close()
    # 'S' and then silence: the login timeout bounds the handshake.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    t0 = time.monotonic()
    assert closed_by_peer(s, timeout=5)
    assert time.monotonic() - t0 < 3
    s.close()
    assert "TLS handshake failed" in p.log_text()
    with psycopg.connect(dsn(p.port, "require")) as c:
        assert c.execute("SELECT 2").fetchone()[0] == 2


def test_show_clients_shows_the_tls_version(start, certs):
    p = start()
    with psycopg.connect(dsn(p.port, "verify-full", certs, application_name="tls-client")), \
         psycopg.connect(dsn(p.port, "disable", application_name="plain-client")), \
         psycopg.connect(dsn(p.port, "require", user="admin", dbname="pgrouter"),
                         autocommit=True) as adm:
        cur = adm.execute("SHOW CLIENTS")
        cols = [d.name for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    by_app = {r["application_name"]: r for r in rows}
    assert by_app["tls-client"]["tls"] == "TLSv1.3"
    assert by_app["plain-client"]["tls"] is None
    assert [r["tls"] for r in rows if r["database"] == "pgrouter"] == ["TLSv1.3"]


def test_reload_keeps_tls_restart_bound(start, certs):
    p = start()
    text = p.config.read_text()
    p.config.write_text(text.replace("mode: prefer", "mode: disable"))
    with psycopg.connect(dsn(p.port, "disable", user="admin", dbname="pgrouter"),
                         autocommit=True) as adm:
        adm.execute("RELOAD")
    time.sleep(0.3)
    assert "tls changed in the file: it takes effect at the next restart" in p.log_text()
    with psycopg.connect(dsn(p.port, "require")) as c:
        assert c.pgconn.ssl_in_use


# ---- direct TLS (PostgreSQL 17's sslnegotiation=direct) -------------------------------------

def direct_tls_connect(port, certs, alpn=("postgresql",)):
    """A TLS ClientHello as the connection's first bytes, no SSLRequest; alpn None offers none."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    ctx = ssl.create_default_context(cafile=str(certs / "server.crt"))
    if alpn is not None:
        ctx.set_alpn_protocols(list(alpn))
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def simple_query(s, sql):
    s.sendall(b"Q" + struct.pack("!i", len(sql) + 5) + sql.encode() + b"\0")
    rows = []
    while True:
        t, body = read_msg(s)
        if t == b"D":
            n = struct.unpack("!h", body[:2])[0]
            vals, off = [], 2
            for _ in range(n):
                ln = struct.unpack("!i", body[off:off + 4])[0]
                off += 4
                vals.append(body[off:off + ln].decode())
                off += ln
            rows.append(tuple(vals))
        elif t == b"E":
            raise AssertionError(f"query failed: {error_fields(body)}")
        elif t == b"Z":
            return rows


def test_direct_tls_with_alpn_is_served(start, certs):
    """As PostgreSQL 17: a connection that opens with a ClientHello offering ALPN "postgresql"
    is TLS from its first byte, with that protocol selected, and serves queries."""
    p = start()
    with direct_tls_connect(p.port, certs) as s:
        assert s.selected_alpn_protocol() == "postgresql"
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        login(s)
        assert simple_query(s, "SELECT 40 + 2, current_user") == [("42", "app")]
        s.sendall(b"X\0\0\0\4")
    # The ordinary SSLRequest path with ALPN (PostgreSQL 17's libpq sends it) is served too.
    with tls_connect(p.port, certs) as s0:
        assert s0.selected_alpn_protocol() is None
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    ctx = ssl.create_default_context(cafile=str(certs / "server.crt"))
    ctx.set_alpn_protocols(["postgresql"])
    with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
        assert t.selected_alpn_protocol() == "postgresql"
        login(t)
        assert simple_query(t, "SELECT 1") == [("1",)]


def test_direct_tls_without_alpn_or_with_another_is_refused(start, certs):
    """Without ALPN the handshake completes and the startup gets PostgreSQL 17's FATAL 08P01;
    with only another protocol offered the handshake itself fails (no_application_protocol).
    Neither logs in, and pgrouter serves on."""
    p = start()
    with direct_tls_connect(p.port, certs, alpn=None) as s:
        s.sendall(startup_packet())
        t, body = read_msg(s)
        assert t == b"E"
        f = error_fields(body)
        assert (f["S"], f["C"]) == ("FATAL", "08P01")
        assert f["M"] == ("received direct SSL connection request without ALPN protocol "
                          "negotiation extension")
        assert closed_by_peer(s)
    with pytest.raises(ssl.SSLError, match="NO_APPLICATION_PROTOCOL|no application protocol"):
        direct_tls_connect(p.port, certs, alpn=("http/1.1",))
    # An SSLRequest offering only another protocol fails the same way, as in PostgreSQL 17.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    s.sendall(SSL_REQUEST)
    assert recv_exact(s, 1) == b"S"
    ctx = ssl.create_default_context(cafile=str(certs / "server.crt"))
    ctx.set_alpn_protocols(["h2"])
    with pytest.raises(ssl.SSLError):
        ctx.wrap_socket(s, server_hostname="127.0.0.1")
    s.close()
    with psycopg.connect(dsn(p.port, "require"), connect_timeout=5) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_direct_tls_where_tls_is_off_is_closed(start, certs):
    """tls.mode disable: a ClientHello gets the connection closed with nothing sent (a TLS
    client cannot read a plaintext error), and plain clients are served on."""
    p = start(mode="disable")
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    ctx = ssl.create_default_context(cafile=str(certs / "server.crt"))
    ctx.set_alpn_protocols(["postgresql"])
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        ctx.wrap_socket(s, server_hostname="127.0.0.1")
    s.close()
    with psycopg.connect(dsn(p.port, "disable"), connect_timeout=5) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert "direct TLS connection refused: TLS is not enabled" in p.log_text()
