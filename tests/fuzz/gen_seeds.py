#!/usr/bin/env python3
"""Writes hand-made seeds for the codec drivers: tests/fuzz/corpus/{fe,be,startup,roundtrip}/x-*.

The seeds from the golden conversations (tests/unit/protocol/gen_corpus.c) are all well formed;
these reach what they do not: every framing error and NEED_MORE, the malformed bodies each
decoder rejects, the streaming checks' failures (protocol/becheck), unusual startup packets and
CommandComplete tags. Each is a valid stream ending in one bad or unusual message, since the
drivers stop at the first frame that does not frame. Run from anywhere; rewrites only x-* files:

    python3 tests/fuzz/gen_seeds.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def i16(n):
    return struct.pack("!h", n)


def i32(n):
    return struct.pack("!i", n)


def u32(n):
    return struct.pack("!I", n)


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def msg(t, body=b""):
    return t.encode() + i32(len(body) + 4) + body


def raw(t, length, body=b""):
    """A message with a length word that need not match its body."""
    return t.encode() + u32(length) + body


def value(v):
    return i32(-1) if v is None else i32(len(v)) + v


def startup(params, version=(3, 0)):
    body = u32(version[0] << 16 | version[1])
    for k, v in params:
        body += cstr(k) + cstr(v)
    body += b"\0"
    return u32(len(body) + 4) + body


SYNC = msg("S")
READY = msg("Z", b"I")

# ---- frontend streams (fe, and after a startup packet in startup) ----
fe = {
    "need-header": msg("Q", cstr("select 1")) + b"Q\0\0",
    "need-type": SYNC + b"Q",
    "need-body": SYNC + raw("Q", 40, b"select"),
    "bad-type": SYNC + msg("z", b"x"),
    "bad-len-exact": raw("S", 5, b"x"),
    "bad-len-short": raw("Q", 3),
    "bad-len-limit": raw("Q", 1 << 21),
    "bad-len-small": raw("D", 20000),
    "bad-len-auth": raw("p", 70000),
    "query-unterminated": msg("Q", b"select 1"),
    "query-trailing": msg("Q", cstr("select 1") + b"xx"),
    "parse-types": msg("P", cstr("s1") + cstr("select $1, $2") + i16(2) + i32(23) + i32(25))
    + msg("P", cstr("") + cstr("select 1") + i16(-1)),
    "parse-short": msg("P", cstr("s1") + cstr("select $1") + i16(3) + i32(23)),
    "bind-formats": msg("B", cstr("p1") + cstr("s1") + i16(2) + i16(0) + i16(1) + i16(3)
                        + value(b"42") + value(None) + value(b"") + i16(1) + i16(1))
    + msg("B", cstr("") + cstr("") + i16(-1)),
    "bind-neg-params": msg("B", cstr("") + cstr("") + i16(0) + i16(-2)),
    "bind-bad-value": msg("B", cstr("") + cstr("") + i16(0) + i16(1) + i32(-2)),
    "bind-value-past-end": msg("B", cstr("") + cstr("") + i16(0) + i16(1) + i32(100) + b"ab"),
    "bind-neg-result": msg("B", cstr("") + cstr("") + i16(0) + i16(0) + i16(-1)),
    "describe-kinds": msg("D", b"S" + cstr("s1")) + msg("D", b"P" + cstr(""))
    + msg("C", b"S" + cstr("s1")) + msg("C", b"P" + cstr("p")) + msg("D", b"X" + cstr("s1")),
    "close-bad-kind": msg("C", b"Q" + cstr("x")),
    "describe-unterminated": msg("D", b"S" + b"abc"),
    "execute": msg("E", cstr("") + i32(0)) + msg("E", cstr("p1") + i32(10))
    + msg("E", cstr("p1") + i16(1)),
    "empty-nonempty": msg("H") + msg("c") + msg("X") + msg("S", b""),
    "sync-body": raw("S", 8, b"abcd"),
    "copy": msg("d", b"1\t2\n") + msg("d") + msg("c") + msg("f", cstr("gave up"))
    + msg("f", b"no nul"),
    "funccall": msg("F", i32(1598) + i16(1) + i16(1) + i16(2) + value(b"\0\0\0\1") + value(None)
                    + i16(1))
    + msg("F", i32(1598) + i16(-1)),
    "funccall-bad-arg": msg("F", i32(1598) + i16(0) + i16(1) + i32(-3) + i16(0)),
    "funccall-neg-args": msg("F", i32(1598) + i16(0) + i16(-1)),
    "funccall-short": msg("F", i32(1598) + i16(0) + i16(1) + i32(4) + b"ab"),
    "password": msg("p", cstr("secret")) + msg("p", b"unterminated"),
    "sasl-bytes": msg("p", cstr("SCRAM-SHA-256") + value(b"n,,n=,r=abc")) + msg("p", b"c=biws,r=x"),
    "unprintable": msg("Q", cstr(b"select '\x01\x7f\xff'")) + msg("d", bytes(range(0, 40))),
}

# ---- backend streams ----
ROWDESC2 = msg("T", i16(2) + cstr("a") + i32(16384) + i16(1) + i32(23) + i16(4) + i32(-1) + i16(0)
               + cstr("b") + i32(0) + i16(0) + i32(25) + i16(-1) + i32(-1) + i16(1))
be = {
    "need-header": READY + b"Z\0",
    "need-body": READY + raw("D", 30, b"\0\1"),
    "bad-type": READY + msg("x"),
    "bad-len-exact": raw("Z", 6, b"II"),
    "bad-len-key": raw("K", 8, b"abcd"),
    "bad-len-short": raw("D", 2),
    "bad-len-limit": raw("D", 1 << 21),
    "auth-kinds": msg("R", i32(0)) + msg("R", i32(3)) + msg("R", i32(5) + b"salt")
    + msg("R", i32(2)) + msg("R", i32(6)) + msg("R", i32(7)) + msg("R", i32(8) + b"gss")
    + msg("R", i32(9)) + msg("R", i32(12) + b"v=abc"),
    "auth-sasl": msg("R", i32(10) + cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + b"\0")
    + msg("R", i32(11) + b"r=abc,s=c2FsdA==,i=4096") + msg("R", i32(12) + b"v=xyz"),
    "auth-sasl-empty": msg("R", i32(10) + b"\0"),
    "auth-sasl-unterminated": msg("R", i32(10) + b"SCRAM"),
    "auth-md5-short": msg("R", i32(5) + b"ab"),
    "auth-unknown": msg("R", i32(99)),
    "auth-trailing": msg("R", i32(0) + b"x"),
    "keydata": msg("K", i32(1234) + i32(-5678)) + READY,
    "ready-states": msg("Z", b"T") + msg("Z", b"E") + msg("Z", b"I") + msg("Z", b"Q"),
    "param": msg("S", cstr("server_version") + cstr("16.2")) + msg("S", cstr("a") + b"b"),
    "param-no-value": msg("S", cstr("client_encoding")),
    "rowdesc-data": ROWDESC2 + msg("D", i16(2) + value(b"1") + value(None))
    + msg("D", i16(2) + value(b"") + value(b"x" * 10)) + msg("C", cstr("SELECT 2")) + READY,
    "rowdesc-neg": msg("T", i16(-1)),
    # consecutive RowDescriptions that differ in count, name, type, format (fuzz_be compares)
    "rowdesc-diffs": ROWDESC2 + msg("T", i16(0)) + ROWDESC2
    + msg("T", i16(2) + cstr("a") + i32(0) + i16(0) + i32(23) + i16(4) + i32(-1) + i16(0)
          + cstr("c") + i32(0) + i16(0) + i32(25) + i16(-1) + i32(-1) + i16(1))
    + msg("T", i16(2) + cstr("a") + i32(0) + i16(0) + i32(20) + i16(8) + i32(-1) + i16(0)
          + cstr("c") + i32(0) + i16(0) + i32(25) + i16(-1) + i32(-1) + i16(1))
    + msg("T", i16(2) + cstr("a") + i32(0) + i16(0) + i32(20) + i16(8) + i32(-1) + i16(1)
          + cstr("c") + i32(0) + i16(0) + i32(25) + i16(-1) + i32(-1) + i16(1))
    + msg("T", i16(2) + cstr("a") + i32(9) + i16(3) + i32(20) + i16(2) + i32(7) + i16(1)
          + cstr("c") + i32(0) + i16(0) + i32(25) + i16(-1) + i32(-1) + i16(1)),
    "rowdesc-empty": msg("T", b""),
    "rowdesc-short": msg("T", i16(1) + cstr("a") + i32(0)),
    "rowdesc-unterminated": msg("T", i16(1) + b"abc"),
    "rowdesc-trailing": msg("T", i16(0) + b"zz"),
    "datarow-count": ROWDESC2 + msg("D", i16(3) + value(b"1") + value(b"2") + value(b"3")),
    "datarow-neg-count": msg("D", i16(-1)),
    "datarow-len-neg": ROWDESC2 + msg("D", i16(2) + i32(-2) + value(b"x")),
    "datarow-len-past": ROWDESC2 + msg("D", i16(2) + i32(50) + b"abc"),
    "datarow-short": msg("D", i16(2) + value(b"1")),
    "datarow-trailing": msg("D", i16(1) + value(b"1") + b"junk"),
    "datarow-no-count": msg("D", b"\0"),
    "datarow-many": msg("D", i16(5) + value(b"a") + value(None) + value(b"bc") + value(b"")
                        + value(b"def")),
    "error-full": msg("E", b"SERROR\0VERROR\0C42P01\0Mrelation \"t\" does not exist\0P15\0"
                      b"Fparse_relation.c\0L1392\0RparserOpenTable\0" + b"Dd\0Hh\0Ww\0ss\0tt\0"
                      b"cc\0dd\0nn\0pp\0qq\0" + b"\0")
    + msg("N", b"SNOTICE\0C00000\0Mhello\0Zunknown\0\0"),
    "error-no-sqlstate": msg("E", b"SERROR\0Mno code\0\0"),
    "error-unterminated": msg("E", b"SERROR\0C42P01"),
    "error-no-end": msg("N", b"SWARNING\0C01000\0Mx\0"),
    "error-trailing": msg("E", b"SERROR\0C42P01\0\0xx"),
    "error-dup": msg("E", b"SERROR\0C42P01\0C23505\0Ma\0Mb\0\0"),
    "tags": b"".join(msg("C", cstr(t)) for t in [
        "INSERT 0 1", "INSERT 0 18446744073709551615", "INSERT 1", "INSERT x 1", "INSERT 0 1x",
        "UPDATE 5", "DELETE 0", "SELECT 3", "MOVE 2", "FETCH 1", "COPY 7", "MERGE 4",
        "UPDATE", "UPDATE -1", "SELECT 99999999999999999999", "SELECT 9223372036854775808",
        "CREATE TABLE", "BEGIN", "SELECT 1 2", ""]) + READY,
    "complete-unterminated": msg("C", b"SELECT 1"),
    "empty-kinds": msg("I") + msg("1") + msg("2") + msg("3") + msg("n") + msg("s") + msg("c")
    + READY,
    "copy-both": msg("G", b"\0" + i16(2) + i16(0) + i16(0)) + msg("d", b"row\n") + msg("c")
    + msg("H", b"\1" + i16(1) + i16(1)) + msg("W", b"\0" + i16(0)),
    "copy-bad-format": msg("G", b"\2" + i16(0)),
    "copy-neg-count": msg("H", b"\0" + i16(-1)),
    "copy-col-format": msg("G", b"\0" + i16(1) + i16(7)),
    "paramdesc": msg("t", i16(3) + i32(23) + i32(25) + i32(0)) + msg("t", i16(0)),
    "paramdesc-neg": msg("t", i16(-1)),
    "paramdesc-short": msg("t", i16(2) + i32(23)),
    "notify": msg("A", i32(4242) + cstr("chan") + cstr("payload")) + msg("A", i32(1) + cstr("c")),
    "negotiate": msg("v", i32(0) + i32(2) + cstr("_pq_.a") + cstr("_pq_.b"))
    + msg("v", i32(0) + i32(-1)),
    "negotiate-short": msg("v", i32(0) + i32(3) + cstr("_pq_.a")),
    "funcresult": msg("V", value(b"\0\0\0\1")) + msg("V", value(None)) + msg("V", i32(-2)),
    "funcresult-past": msg("V", i32(9) + b"ab"),
    "unprintable": msg("S", cstr("x") + cstr(b"\x01\x02\xff")) + msg("d", bytes(range(250, 256))),
}

# ---- startup packets (the startup driver; a frontend stream may follow) ----
sql = msg("Q", cstr("select 1")) + msg("X")
st = {
    "short-len": u32(4) + u32(196608),
    "huge-len": u32(20000) + u32(196608),
    "need-more-head": b"\0\0",
    "need-more-body": u32(40) + u32(196608) + b"user\0",
    "ssl-bad-len": u32(12) + u32(80877103) + u32(0),
    "gss-bad-len": u32(12) + u32(80877104) + u32(0),
    "cancel-bad-len": u32(12) + u32(80877102) + u32(1),
    "cancel": u32(16) + u32(80877102) + i32(42) + i32(-7),
    "unknown-code": u32(8) + u32(80877199),
    "v2": startup([("user", "u")], (2, 0)),
    "no-terminator": u32(13) + u32(196608) + b"user\0",
    "ssl-gss-startup": u32(8) + u32(80877103) + u32(8) + u32(80877104)
    + startup([("user", "app"), ("database", "db"), ("options", "-c a=b"),
               ("application_name", "x")]) + sql,
    "negotiate": startup([("user", "u"), ("_pq_.compression", "on"), ("_pq_.x", "y")], (3, 2))
    + sql,
    "minor": startup([("user", "u")], (3, 1)),
    "unsupported-major": startup([("user", "u")], (4, 0)),
    "name-no-value": u32(17) + u32(196608) + b"user\0abc\0\0"[:9],
    "value-unterminated": u32(8 + 10) + u32(196608) + b"user\0abcd\0",
    "trailing": u32(8 + 9) + u32(196608) + b"user\0u\0\0x",
    "empty": u32(9) + u32(196608) + b"\0",
    "ssl-then-bad": u32(8) + u32(80877103) + u32(3),
}

# ---- roundtrip: selector byte (phase = b % 3: 0 startup, 1 frontend, 2 backend; p kind =
# (b / 3) % 3: 0 password, 1 SASLInitialResponse, 2 SASLResponse) and one message ----
rt = {}
for name, m in [
    ("parse", msg("P", cstr("s") + cstr("select $1") + i16(1) + i32(23))),
    ("bind", msg("B", cstr("p") + cstr("s") + i16(1) + i16(1) + i16(2) + value(b"\0\0\0\1")
                 + value(None) + i16(1) + i16(0))),
    ("funccall", msg("F", i32(1598) + i16(1) + i16(0) + i16(1) + value(b"7") + i16(0))),
    ("close", msg("C", b"P" + cstr("p"))),
    ("copyfail", msg("f", cstr("why"))),
]:
    rt["fe-" + name] = b"\x01" + m
rt["fe-password"] = b"\x01" + msg("p", cstr("pw"))
rt["fe-sasl-initial"] = b"\x04" + msg("p", cstr("SCRAM-SHA-256") + value(b"n,,n=,r=x"))
rt["fe-sasl-initial-none"] = b"\x04" + msg("p", cstr("SCRAM-SHA-256") + value(None))
rt["fe-sasl-response"] = b"\x07" + msg("p", b"c=biws,r=x,p=y")
for name, m in [
    ("auth-sasl", msg("R", i32(10) + cstr("SCRAM-SHA-256") + b"\0")),
    ("auth-md5", msg("R", i32(5) + b"salt")),
    ("auth-cont", msg("R", i32(11) + b"r=1")),
    ("rowdesc", ROWDESC2),
    ("paramdesc", msg("t", i16(2) + i32(23) + i32(25))),
    ("copyresp", msg("H", b"\1" + i16(2) + i16(1) + i16(1))),
    ("copyboth", msg("W", b"\0" + i16(0))),
    ("negotiate", msg("v", i32(1) + i32(1) + cstr("_pq_.a"))),
    ("notify", msg("A", i32(1) + cstr("c") + cstr("p"))),
    ("funcresult", msg("V", value(b"x"))),
    ("funcresult-null", msg("V", value(None))),
    ("error-extra", msg("E", b"SERROR\0VERROR\0C42P01\0Mm\0Xunknown\0\0")),
    ("notice-dup", msg("N", b"SNOTICE\0C00000\0Ma\0Mb\0\0")),
    ("keydata", msg("K", i32(1) + i32(2))),
    ("param", msg("S", cstr("a") + cstr("b"))),
    ("tag-insert", msg("C", cstr("INSERT 0 18446744073709551615"))),
    ("tag-update", msg("C", cstr("UPDATE 9223372036854775808"))),
]:
    rt["be-" + name] = b"\x02" + m
rt["st-negotiate"] = b"\x00" + startup([("user", "u"), ("_pq_.a", "1")], (3, 5))
rt["st-cancel"] = b"\x00" + u32(16) + u32(80877102) + i32(1) + i32(2)
rt["st-ssl"] = b"\x00" + u32(8) + u32(80877103)
rt["st-gss"] = b"\x00" + u32(8) + u32(80877104)
rt["st-many"] = b"\x00" + startup([("p%d" % i, "v") for i in range(300)])


def main():
    for sub, seeds in (("fe", fe), ("be", be), ("startup", st), ("roundtrip", rt)):
        d = os.path.join(ROOT, sub)
        for f in os.listdir(d):
            if f.startswith("x-"):
                os.unlink(os.path.join(d, f))
        for name, data in seeds.items():
            with open(os.path.join(d, "x-" + name), "wb") as f:
                f.write(data)
        # The fe seeds after a plain startup packet, for the startup driver's typed stream.
        if sub == "fe":
            sd = os.path.join(ROOT, "startup")
            for name, data in seeds.items():
                with open(os.path.join(sd, "x-fe-" + name), "wb") as f:
                    f.write(startup([("user", "u")]) + data)


if __name__ == "__main__":
    main()
