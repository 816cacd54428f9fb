"""A node that sends malformed replies (tests/fakepg.py pretends to be one) beside a real one.

Each malformed reply must end that server connection with a logged reason, give the client an
error naming the node (08P01, protocol_violation, as PostgreSQL's own client reports a server
that breaks the protocol), and leave pgrouter serving: the same client and a new one go on,
through the real node and through the fake. In a broadcast the malformed node is one WARNING
and the real nodes' rows are intact.
"""
import struct
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fakepg  # noqa: E402
from fakepg import complete, datarow, error, msg, ready, rowdesc  # noqa: E402


def config(cluster, fake, port, extra=""):
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth: {{method: trust}}
pool: {{mode: transaction, max_size: 10, acquire_timeout: 5s}}
health: {{interval: 300ms, timeout: 1s}}
log: {{level: info}}
{extra}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port("pg1")}}}
  - {{id: fake, host: 127.0.0.1, port: {fake.port}}}
"""


def dsn(port):
    return f"host=127.0.0.1 port={port} user=app dbname=app"


@pytest.fixture
def fake():
    f = fakepg.FakePg(free_port())
    yield f
    f.stop()


@pytest.fixture
def setup(cluster_factory, fake, pgrouter_factory):
    cluster = cluster_factory(1)
    port = free_port()
    router = pgrouter_factory(config(cluster, fake, port), port)
    wait_serving(port)
    return cluster, fake, router


def wait_serving(port, timeout=15):
    """Until both nodes answer a hinted statement (their first health checks may still run)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(dsn(port), autocommit=True, connect_timeout=2) as c:
                c.execute("/* pgrouter: node=pg1 */ SELECT 1")
                assert c.execute("/* pgrouter: node=fake */ SELECT 1").fetchone() == ("ok",)
                return
        except psycopg.Error as e:
            last = e
            time.sleep(0.1)
    raise TimeoutError(f"pgrouter on {port} never served both nodes: {last}")


def still_serving(port, fake, c=None):
    """The client c (if still open) and a new client work through both nodes."""
    conns = [c] if c is not None and not c.closed else []
    conns.append(psycopg.connect(dsn(port), autocommit=True, connect_timeout=5))
    try:
        for k in conns:
            assert k.execute("/* pgrouter: node=pg1 */ SELECT 6 * 7").fetchone() == (42,)
            assert k.execute("/* pgrouter: node=fake */ SELECT 'fine'").fetchone() == ("ok",)
    finally:
        conns[-1].close()


def wait_log(router, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in router.log_text():
            return True
        time.sleep(0.05)
    return text in router.log_text()


# One reply per case: what the fake sends for a statement holding "boom", and the reason the
# log line and the client's error must give.
CASES = {
    "error_without_sqlstate": (
        error({"S": "ERROR", "V": "ERROR", "M": "something broke"}) + ready(),
        "ErrorResponse without a SQLSTATE"),
    "datarow_count_differs": (
        rowdesc(["a", "b"]) + datarow(["1", "2", "3"]) + complete("SELECT 1") + ready(),
        "DataRow has 3 fields, its RowDescription 2"),
    "field_length_minus_two": (
        rowdesc(["a"]) + msg(b"D", struct.pack("!hi", 1, -2)) + complete("SELECT 1") + ready(),
        "DataRow field length -2"),
    "field_length_past_end": (
        rowdesc(["a"]) + msg(b"D", struct.pack("!hi", 1, 100) + b"short") +
        complete("SELECT 1") + ready(),
        "DataRow field length 100 past the end of the message"),
    "unknown_message_type": (
        rowdesc(["a"]) + msg(b"j", b"what is this") + complete("SELECT 1") + ready(),
        "invalid backend message type (type 0x6a)"),
    "parameter_status_without_nul": (
        msg(b"S", b"application_name\0no terminator") + rowdesc(["a"]) + datarow(["1"]) +
        complete("SELECT 1") + ready(),
        "ParameterStatus not terminated"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_malformed_reply_drops_the_server_connection(setup, case, protocol):
    cluster, fake, router = setup
    raw, why = CASES[case]
    fake.script("boom", raw)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        if protocol == "simple":
            cur = psycopg.ClientCursor(c)
        else:
            cur = c.cursor()
        with pytest.raises(psycopg.Error) as ei:
            cur.execute("/* pgrouter: node=fake */ SELECT 'boom'")
        e = ei.value
        assert e.sqlstate == "08P01", (case, repr(e))
        assert str(e) == f'invalid reply from node "fake": {why}'
        # Nothing of the malformed reply reached the client: the same session goes on.
        assert not c.closed
        # The fake sees its connection closed: pgrouter dropped it.
        n = [k for k, what in fake.seen("scripted boom")][-1]
        assert fake.wait_for(lambda: (n, "eof") in fake.events or
                             (n, "terminate") in fake.events)
        assert wait_log(router, "node fake broke the protocol, its server connection is "
                        f"closed: {why}")
        still_serving(router.port, fake, c)
    assert router.proc.poll() is None


def test_violation_deep_in_a_large_row_ends_the_session(setup):
    """A bad field length after 200 kB of a DataRow: the row's start is already on its way to
    the client, so its session cannot go on; it ends, and pgrouter and other clients do not."""
    cluster, fake, router = setup
    big = b"x" * 200_000
    row = msg(b"D", struct.pack("!hi", 2, len(big)) + big + struct.pack("!i", -7))
    fake.script("boom", rowdesc(["a", "b"]) + row + complete("SELECT 1") + ready())
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        with pytest.raises(psycopg.OperationalError):
            c.execute("/* pgrouter: node=fake */ SELECT 'boom'")
    assert wait_log(router, "node fake broke the protocol, its server connection is closed: "
                    "DataRow field length -7")
    n = [k for k, what in fake.seen("scripted boom")][-1]
    assert fake.wait_for(lambda: (n, "eof") in fake.events or (n, "terminate") in fake.events)
    still_serving(router.port, fake)
    assert router.proc.poll() is None



def test_violation_inside_a_transaction_ends_the_session(setup):
    """Inside a transaction the node's state is lost with its connection: the session ends
    with FATAL 08P01 naming the node, as after a lost server connection; others go on."""
    cluster, fake, router = setup
    fake.script("boom", CASES["datarow_count_differs"][0])
    with psycopg.connect(dsn(router.port)) as c:
        c.execute("/* pgrouter: node=fake */ SELECT 'before'")
        with pytest.raises(psycopg.OperationalError) as ei:
            c.execute("/* pgrouter: node=fake */ SELECT 'boom'")
        # libpq reads a FATAL that ends the connection as its message alone (no SQLSTATE).
        assert 'invalid reply from node "fake": DataRow has 3 fields' in str(ei.value)
        assert c.closed or c.broken
    assert wait_log(router, "node fake broke the protocol")
    still_serving(router.port, fake)
    assert router.proc.poll() is None

# ---- in a broadcast ------------------------------------------------------------------------

@pytest.fixture
def bsetup(cluster_factory, fake, pgrouter_factory):
    """Two real nodes and the fake, all primaries, for broadcasts."""
    cluster = cluster_factory(2)
    port = free_port()
    text = config(cluster, fake, port).replace(
        "nodes:\n", f"nodes:\n  - {{id: pg2, host: 127.0.0.1, port: {cluster.port('pg2')}}}\n")
    router = pgrouter_factory(text, port)
    wait_serving(port)
    return cluster, fake, router


# Each case's reply to a broadcast of one text column "a".
BCASES = {
    "error_without_sqlstate": CASES["error_without_sqlstate"],
    "datarow_count_differs": (
        rowdesc(["a"]) + datarow(["1", "2"]) + complete("SELECT 1") + ready(),
        "DataRow has 2 fields, its RowDescription 1"),
    "field_length_minus_two": CASES["field_length_minus_two"],
    "field_length_past_end": CASES["field_length_past_end"],
    "unknown_message_type": CASES["unknown_message_type"],
    "parameter_status_without_nul": CASES["parameter_status_without_nul"],
}


@pytest.mark.parametrize("case", sorted(BCASES))
def test_malformed_reply_in_a_broadcast_is_one_warning(bsetup, case):
    cluster, fake, router = bsetup
    raw, why = BCASES[case]
    fake.script("boom", raw)
    with psycopg.connect(dsn(router.port), autocommit=True) as c:
        notes = []
        c.add_notice_handler(lambda d: notes.append((d.severity, d.sqlstate, d.message_primary)))
        rows = c.execute("/* pgrouter: broadcast */ SELECT 'boom'::text AS a").fetchall()
        # The real nodes' rows, intact; one warning naming the fake and why.
        assert rows == [("boom",), ("boom",)], (case, rows, notes)
        warnings = [n for n in notes if n[0] == "WARNING"]
        assert len(warnings) == 1, notes
        assert "fake" in warnings[0][2] and why in warnings[0][2], warnings
        n = [k for k, what in fake.seen("scripted boom")][-1]
        assert fake.wait_for(lambda: (n, "eof") in fake.events or
                             (n, "terminate") in fake.events)
        assert wait_log(router, why)
        still_serving(router.port, fake, c)
    assert router.proc.poll() is None


# ---- a 10 kB SCRAM nonce -------------------------------------------------------------------

@pytest.mark.parametrize("extra", [100, 10_000])
def test_oversized_scram_nonce_is_a_failed_login(cluster_factory, pgrouter_factory, extra):
    """The fake asks for SCRAM-SHA-256 and answers with a server nonce `extra` bytes longer
    than the client's. The node's logins are libpq's (health checks, server connections):
    libpq refuses an authentication request over 2000 bytes, so the 10 kB nonce ends the login
    at once, where the 100-byte one goes on to the client-final message and fails on the
    password. Either way the node is unhealthy with the reason logged, a statement hinted to it
    gets an error naming it, and nothing crashes."""
    fake = fakepg.FakePg(free_port(), auth="scram", scram_nonce_extra=extra)
    try:
        cluster = cluster_factory(1)
        port = free_port()
        text = config(cluster, fake, port).replace(
            f"port: {fake.port}}}", f"port: {fake.port}, user: app, password: secret}}")
        router = pgrouter_factory(text, port)
        reason = ("password authentication failed" if extra < 2000 else
                  "expected authentication request from server, but received R")
        assert wait_log(router, "node fake: connecting -> unhealthy", timeout=15)
        assert wait_log(router, reason)
        assert fake.wait_for(lambda: fake.seen("scram-first"))
        assert bool(fake.seen("scram-final")) == (extra < 2000)
        with psycopg.connect(dsn(port), autocommit=True, connect_timeout=5) as c:
            with pytest.raises(psycopg.Error) as ei:
                c.execute("/* pgrouter: node=fake */ SELECT 1")
            assert "fake" in str(ei.value) and ei.value.sqlstate == "08006", repr(ei.value)
            assert c.execute("/* pgrouter: node=pg1 */ SELECT 6 * 7").fetchone() == (42,)
        assert router.proc.poll() is None
    finally:
        fake.stop()
