"""SCRAM-SHA-256 through pgrouter as PostgreSQL does it, each case compared with the same login
against the node directly:

- passwords are SASLprep-normalised (RFC 4013, PostgreSQL's pg_saslprep, raw bytes when that
  fails): a role whose password is IX-Ⅸ logs in with psql through pgrouter as it does directly;
- a client nonce of any length PostgreSQL accepts works, and a longer one fails as there
  (28P01, not a dropped connection), driven by a raw SCRAM client written here from RFC 5802.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess

import psycopg
import pytest

from conftest import free_port

NONASCII_ROLES = {
    # role: (password as created in the node, as written in pgrouter's YAML)
    "r_ix": ("IX-\u2168", '"IX-\\u2168"'),                 # NFKC: IX-IX
    "r_pua": ("pw\ue000", '"pw\\uE000"'),                  # prohibited: hashed as its bytes
}
RAW_ROLE, RAW_PASSWORD = "r_raw", b"\xffpw\xfe"            # not UTF-8: hashed as its bytes


def setup_roles(cluster):
    """The roles, and pg_hba lines that make the node itself ask them for SCRAM."""
    hba = os.path.join(cluster.dir, "pg1", "pg_hba.conf")
    roles = ",".join(list(NONASCII_ROLES) + [RAW_ROLE, "scram_user"])
    with open(hba) as f:
        rest = f.read()
    with open(hba, "w") as f:
        f.write(f"host all {roles} 127.0.0.1/32 scram-sha-256\n" + rest)
    conn = psycopg.pq.PGconn.connect_start(b"host=/nonexistent")  # only for libpq's API
    raw_verifier = conn.encrypt_password(RAW_PASSWORD, RAW_ROLE.encode(), b"scram-sha-256")
    conn.finish()
    with psycopg.connect(host=cluster.dir, port=cluster.port("pg1"), user="postgres",
                         dbname="postgres", autocommit=True) as c:
        c.execute("SET password_encryption = 'scram-sha-256'")
        for role, (pw, _) in NONASCII_ROLES.items():
            c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{pw}'")
        c.execute(f"CREATE ROLE {RAW_ROLE} LOGIN PASSWORD '{raw_verifier.decode()}'")
        c.execute("SELECT pg_reload_conf()")


def router_config(cluster, port):
    users = "\n".join(f"    - {{name: {r}, password: {y}}}"
                      for r, (_, y) in NONASCII_ROLES.items())
    return f"""
listen: {{host: 127.0.0.1, port: {port}}}
auth:
  method: scram-sha-256
  users:
{users}
    - {{name: {RAW_ROLE}, password_env: RAW_PW}}
    - {{name: scram_user, password: scram_pass}}
pool: {{mode: transaction, max_size: 4, acquire_timeout: 5s}}
health: {{interval: 500ms, timeout: 1s}}
log: {{level: info}}
nodes:
  - {{id: pg1, host: 127.0.0.1, port: {cluster.port('pg1')}, dbname: app}}
"""


@pytest.fixture
def setup(cluster_factory, pgrouter_factory):
    cluster = cluster_factory(1)
    setup_roles(cluster)
    port = free_port()
    router = pgrouter_factory(router_config(cluster, port), port,
                              env={"RAW_PW": os.fsdecode(RAW_PASSWORD)})
    return cluster, port, router


def psql(port, user, password):
    """(exit code, output, the server's message) of psql -c 'SELECT current_user' with
    PGPASSWORD as bytes."""
    env = {k.encode(): v.encode() for k, v in os.environ.items() if k != "PGPASSWORD"}
    env[b"PGPASSWORD"] = password if isinstance(password, bytes) else password.encode()
    env[b"PGCONNECT_TIMEOUT"] = b"5"
    r = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                        "-d", "app", "-c", "SELECT current_user"], capture_output=True,
                       env=env, timeout=60)
    err = r.stderr.decode(errors="replace")
    return r.returncode, r.stdout.decode().strip(), err[err.find("FATAL"):].strip()


def test_saslprep_passwords_log_in_as_directly(setup):
    cluster, port, router = setup
    attempts = [
        ("r_ix", "IX-\u2168", True), ("r_ix", "IX-IX", True), ("r_ix", "IX-\u2169", False),
        ("r_ix", "ix-ix", False),
        ("r_pua", "pw\ue000", True), ("r_pua", "pw", False),
        (RAW_ROLE, RAW_PASSWORD, True), (RAW_ROLE, b"\xfepw\xff", False),
    ]
    for user, pw, should in attempts:
        direct = psql(cluster.port("pg1"), user, pw)
        through = psql(port, user, pw)
        assert through == direct, (user, pw, direct, through)
        if should:
            assert direct == (0, user, ""), (user, pw, direct)
        else:
            assert direct[0] == 2 and \
                f'password authentication failed for user "{user}"' in direct[2], direct
    # The pooled server connections logged in with the configured passwords too (libpq
    # normalises on that side): a second statement on a fresh psql ran on the node as r_ix.
    assert psql(port, "r_ix", "IX-IX")[:2] == (0, "r_ix")
    assert "IX-" not in router.log_text() and "pw\ue000" not in router.log_text()


# ---- a raw SCRAM client (RFC 5802), to choose the nonce ----------------------------------------

def _send(sock, t, body):
    sock.sendall(t + struct.pack("!i", len(body) + 4) + body)


def _read(sock):
    def exactly(n):
        b = b""
        while len(b) < n:
            c = sock.recv(n - len(b))
            if not c:
                return None
            b += c
        return b
    hdr = exactly(5)
    if hdr is None:
        return None, None
    return hdr[:1], exactly(struct.unpack("!i", hdr[1:])[0] - 4)


def _error(body):
    f = {chr(p[0]): p[1:].decode(errors="replace") for p in body.split(b"\0") if p}
    return ("error", f.get("S"), f.get("C"), f.get("M"))


def scram_login(port, user, password, nonce):
    """('ok',) after ReadyForQuery, ('error', severity, sqlstate, message), or ('closed',)
    when the server ends the connection without an error."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        body = struct.pack("!i", 196608) + b"user\0" + user.encode() + b"\0database\0app\0\0"
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        t, b = _read(s)
        assert t == b"R" and struct.unpack("!i", b[:4])[0] == 10, (t, b)
        bare = b"n=,r=" + nonce
        first = b"n,," + bare
        _send(s, b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        t, b = _read(s)
        if t != b"R":
            return _error(b) if t == b"E" else ("closed",)
        server_first = b[4:]
        attrs = dict(kv.split(b"=", 1) for kv in server_first.split(b","))
        assert attrs[b"r"].startswith(nonce) and len(attrs[b"r"]) > len(nonce)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs[b"s"]),
                                     int(attrs[b"i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        without_proof = b"c=biws,r=" + attrs[b"r"]
        auth_message = bare + b"," + server_first + b"," + without_proof
        sig = hmac.new(hashlib.sha256(client_key).digest(), auth_message, "sha256").digest()
        proof = bytes(x ^ y for x, y in zip(client_key, sig))
        _send(s, b"p", without_proof + b",p=" + base64.b64encode(proof))
        t, b = _read(s)
        if t != b"R":
            return _error(b) if t == b"E" else ("closed",)
        server_key = hmac.new(salted, b"Server Key", "sha256").digest()
        assert b[4:] == b"v=" + base64.b64encode(
            hmac.new(server_key, auth_message, "sha256").digest())
        while True:
            t, b = _read(s)
            if t is None:
                return ("closed",)
            if t == b"E":
                return _error(b)
            if t == b"Z":
                return ("ok",)
    finally:
        s.close()


def test_client_nonce_lengths_as_directly(setup):
    """PostgreSQL reads SASL messages up to 1024 bytes (length word included): with its 24-byte
    server nonce a client nonce of 940 fits client-final, 941 does not and the login fails with
    28P01. pgrouter used to close the connection from 956 on."""
    cluster, port, router = setup
    results = {}
    for n in (24, 900, 940, 941, 956, 1000, 1010, 5000, 70000):
        nonce = b"x" * n
        direct = scram_login(cluster.port("pg1"), "scram_user", "scram_pass", nonce)
        through = scram_login(port, "scram_user", "scram_pass", nonce)
        assert through == direct, (n, direct, through)
        results[n] = direct
    assert results[940] == ("ok",) and results[24] == ("ok",)
    for n in (941, 956, 1000, 5000, 70000):
        assert results[n] == ("error", "FATAL", "28P01",
                              'password authentication failed for user "scram_user"'), n
    # A wrong password with a short nonce still fails, so "ok" above means the proof checked.
    assert scram_login(port, "scram_user", "scram_pasS", b"abc")[2] == "28P01"
    assert "cannot encode a message" not in router.log_text()
    # pgrouter is still serving.
    assert scram_login(port, "scram_user", "scram_pass", b"y" * 940) == ("ok",)
