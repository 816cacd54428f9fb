#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_session: tests/fuzz/corpus/session/*.

Each seed is what a client sends, in the driver's records: one length byte n, then n bytes
written as one slice (see fuzz_session.c). Users and methods are the driver's: trusty (trust),
clear (cleartext password), md5u (md5), app (scram-sha-256), nobody (reject); every password
is "secret". Run from anywhere; rewrites the directory's files:

    python3 tests/fuzz/gen_session_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "session")


def i16(n):
    return struct.pack("!h", n)


def i32(n):
    return struct.pack("!i", n)


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def msg(t, body=b""):
    return t.encode() + i32(len(body) + 4) + body


def startup(user, database="app", extra=(), version=196608):
    body = i32(version) + cstr("user") + cstr(user) + cstr("database") + cstr(database)
    for k, v in extra:
        body += cstr(k) + cstr(v)
    body += b"\0"
    return i32(len(body) + 4) + body


def ssl_request():
    return i32(8) + i32(80877103)


def gss_request():
    return i32(8) + i32(80877104)


def cancel(pid, key):
    return i32(16) + i32(80877102) + i32(pid) + i32(key)


def query(sql):
    return msg("Q", cstr(sql))


def parse(name, sql, types=()):
    return msg("P", cstr(name) + cstr(sql) + i16(len(types)) + b"".join(i32(t) for t in types))


def bind(portal, stmt, params=()):
    body = cstr(portal) + cstr(stmt) + i16(0) + i16(len(params))
    for p in params:
        body += i32(-1) if p is None else i32(len(p)) + p
    return msg("B", body + i16(0))


def describe(kind, name):
    return msg("D", kind.encode() + cstr(name))


def execute(portal, rows=0):
    return msg("E", cstr(portal) + i32(rows))


def sync():
    return msg("S")


def terminate():
    return msg("X")


def password(pw):
    return msg("p", cstr(pw))


def sasl_initial(mech, data):
    return msg("p", cstr(mech) + i32(len(data)) + data)


def sasl_response(data):
    return msg("p", data)


def records(*slices):
    """Each slice (bytes) as records of at most 255 bytes."""
    out = b""
    for s in slices:
        if s == b"":
            out += b"\0"
        while s:
            out += bytes([min(len(s), 255)]) + s[:255]
            s = s[255:]
    return out


def bytewise(data):
    return b"".join(b"\1" + data[i:i + 1] for i in range(len(data)))


SEEDS = {
    # trust, then statements pgrouter answers itself or fails at once (no node is reachable).
    "trust-queries": records(
        startup("trusty", extra=[("application_name", "fuzz"), ("client_encoding", "UTF8")]),
        query("SHOW pgrouter.route"),
        query("SET pgrouter.route = 'primary'"),
        query("SHOW pgrouter.route"),
        query("SELECT 1"),
        query("/* pgrouter: node=pg2 */ SELECT 1"),
        query("SET pgrouter.node_column = on; SHOW pgrouter.node_column"),
        query("SHOW pgrouter.last_broadcast"),
        query("RESET pgrouter.route"),
        query(""),
        terminate()),
    # A transaction: the lone BEGIN is held, the next statement fails, ROLLBACK.
    "trust-transaction": records(
        startup("trusty"),
        query("BEGIN"),
        query("INSERT INTO t VALUES (1)"),
        query("ROLLBACK"),
        query("BEGIN READ ONLY; SELECT 1; COMMIT"),
        terminate()),
    # The extended protocol, pipelined in one slice.
    "trust-extended": records(
        startup("trusty"),
        parse("s1", "SELECT $1::int", [23]) + bind("", "s1", [b"42"]) + describe("P", "") +
        execute("") + sync(),
        parse("", "SHOW pgrouter.route") + bind("", "") + execute("") + sync(),
        msg("C", b"S" + cstr("s1")) + sync(),
        msg("H"),
        terminate()),
    # Everything in one slice: startup and statements pipelined.
    "trust-one-slice": records(
        startup("trusty") + query("SHOW pgrouter.broadcast") + query("SELECT 1") + terminate()),
    # The startup packet one byte at a time.
    "trust-bytewise": bytewise(startup("trusty")) + records(query("SHOW pgrouter.route")),
    # SSLRequest (answered N: no TLS), then the startup.
    "sslrequest": records(ssl_request(), startup("trusty"), query("SELECT 1"), terminate()),
    # SSLRequest pipelined with the startup packet (bytes before the answer).
    "sslrequest-pipelined": records(ssl_request() + startup("trusty")),
    "gssencrequest": records(gss_request(), startup("trusty"), query("SELECT 1")),
    "cancel": records(cancel(1234, 5678)),
    "cancel-after-startup": records(startup("trusty"), cancel(1, 2)),
    # Cleartext password, right then wrong.
    "password-ok": records(startup("clear"), password("secret"), query("SHOW pgrouter.route"),
                           query("SELECT 1"), terminate()),
    "password-wrong": records(startup("clear"), password("wrong")),
    "password-pipelined": records(startup("clear") + password("secret") + query("SELECT 1")),
    # md5: the salt is random, so the hash is never right; the exchange runs.
    "md5": records(startup("md5u"), password("md5" + "0" * 32)),
    # SCRAM: a client-first message, then a final message whose proof is wrong.
    "scram": records(
        startup("app"),
        sasl_initial("SCRAM-SHA-256", b"n,,n=,r=rOprNGfwEbeRWgbNEkqO"),
        sasl_response(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                      b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")),
    "scram-bad-mechanism": records(startup("app"), sasl_initial("SCRAM-SHA-1", b"n,,n=,r=x")),
    # Refused: an hba reject line, an unknown user, no hba line for the user.
    "reject": records(startup("nobody")),
    "unknown-user": records(startup("ghost"), password("x")),
    # Startup packet variants.
    "startup-options": records(startup("trusty", extra=[
        ("options", "-c search_path=public -c statement_timeout=5s"),
        ("DateStyle", "ISO, MDY"), ("_pq_.unknown", "1")])),
    "startup-minor-version": records(startup("trusty", version=196608 + 2),
                                     query("SELECT 1")),
    "startup-protocol-2": records(startup("trusty", version=131072)),
    "startup-replication": records(startup("trusty", extra=[("replication", "database")])),
    "startup-no-user": records(i32(4 + 4 + 9 + 4 + 1) + i32(196608) + cstr("database") +
                               cstr("app") + b"\0"),
    "bad-length": records(i32(3) + i32(196608)),
    "bad-message": records(startup("trusty"), b"Q" + i32(2)),
    "function-call": records(startup("trusty"),
                             msg("F", i32(1598) + i16(0) + i16(0) + i16(0)), terminate()),
    "copy-data-idle": records(startup("trusty"), msg("d", b"1\t2\n"), msg("c"), sync()),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
