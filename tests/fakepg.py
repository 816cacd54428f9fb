"""A fake PostgreSQL server for protocol edge cases a real node cannot produce.

It speaks protocol 3.0 on 127.0.0.1: SSLRequest and GSSENCRequest get 'N', a StartupMessage gets
AuthenticationOk (trust) or a SCRAM-SHA-256 exchange (auth="scram"), then ParameterStatus,
BackendKeyData and ReadyForQuery. Queries, simple or extended, are answered as a PostgreSQL 15
node would answer the few kinds pgrouter and the tests send: pgrouter's health check (as a
primary, or a replica with role="replica"), SET / RESET / DISCARD / BEGIN / COMMIT / ROLLBACK by
their tags, any other SELECT with one text column "fake" holding 'ok'.

A test scripts the rest: fake.script("boom", raw) makes a Query, or an extended batch (up to its
Sync) whose Parse holds "boom", answered with exactly the bytes raw and nothing else. The
helpers below (msg, error, rowdesc, datarow, ...) build those bytes. What happened is kept in
fake.events as (connection number, what) pairs: "connect", "query <sql>", "scripted <needle>",
"terminate" (the peer sent Terminate), "eof" (the peer closed), "scram-first" and
"scram-final" (a SCRAM client's first message, and its answer to the server-first message).

Stdlib only. One thread accepts, one per connection serves; stop() closes every socket and joins
every thread. Run alone (python3 tests/fakepg.py [port]) it serves until interrupted.
"""
import base64
import os
import re
import socket
import struct
import threading
import time

SSL_CODE = 80877103
GSSENC_CODE = 80877104
CANCEL_CODE = 80877102
TEXT_OID = 25


# ---- message builders ----------------------------------------------------------------------

def msg(type_: bytes, body: bytes) -> bytes:
    return type_ + struct.pack("!I", len(body) + 4) + body


def cstr(s) -> bytes:
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def error(fields: dict, notice=False) -> bytes:
    """An ErrorResponse (NoticeResponse) with exactly the given fields, e.g. {"S": "ERROR",
    "C": "XX000", "M": "text"}; leave "C" out for one without a SQLSTATE."""
    body = b"".join(k.encode() + cstr(v) for k, v in fields.items()) + b"\0"
    return msg(b"N" if notice else b"E", body)


def rowdesc(names) -> bytes:
    body = struct.pack("!h", len(names))
    for n in names:
        body += cstr(n) + struct.pack("!ihihih", 0, 0, TEXT_OID, -1, -1, 0)
    return msg(b"T", body)


def datarow(values, count=None) -> bytes:
    """A DataRow of the values (str, bytes or None); count overrides the field count word."""
    body = struct.pack("!h", len(values) if count is None else count)
    for v in values:
        if v is None:
            body += struct.pack("!i", -1)
        else:
            b = v.encode() if isinstance(v, str) else v
            body += struct.pack("!i", len(b)) + b
    return msg(b"D", body)


def complete(tag: str) -> bytes:
    return msg(b"C", cstr(tag))


def ready(status=b"I") -> bytes:
    return msg(b"Z", status)


def param(name: str, value: str) -> bytes:
    return msg(b"S", cstr(name) + cstr(value))


def auth(code: int, data: bytes = b"") -> bytes:
    return msg(b"R", struct.pack("!i", code) + data)


PARAMS = {
    "server_version": "15.99 (fakepg)", "server_encoding": "UTF8", "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY", "integer_datetimes": "on", "IntervalStyle": "postgres",
    "TimeZone": "UTC", "standard_conforming_strings": "on", "is_superuser": "off",
    "application_name": "",
}


def split_sql(sql: str):
    """Statements of a simple Query, split at semicolons outside single quotes."""
    out, cur, quoted = [], "", False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]


class FakePg:
    def __init__(self, port: int, role: str = "primary", auth: str = "trust",
                 scram_nonce_extra: int = 0):
        self.port = port
        self.role = role
        self.auth = auth
        self.scram_nonce_extra = scram_nonce_extra
        self.scripts = []          # (needle, raw bytes)
        self.events = []           # (connection number, what)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._socks = []
        self._n = 0
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", port))
        self._lsock.listen(64)
        self._lsock.settimeout(0.2)
        t = threading.Thread(target=self._accept_loop, name=f"fakepg-{port}", daemon=True)
        t.start()
        self._threads.append(t)

    # ---- the test's side ---------------------------------------------------------------

    def script(self, needle: str, raw: bytes) -> None:
        with self._lock:
            self.scripts.append((needle, raw))

    def seen(self, what: str):
        """Events whose text starts with what, as (connection number, text) pairs."""
        with self._lock:
            return [e for e in self.events if e[1].startswith(what)]

    def wait_for(self, pred, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.05)
        return pred()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(10)
        self._lsock.close()

    # ---- serving -----------------------------------------------------------------------

    def _event(self, n: int, what: str) -> None:
        with self._lock:
            self.events.append((n, what))

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                s, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._n += 1
                n = self._n
                self._socks.append(s)
            t = threading.Thread(target=self._serve, args=(s, n), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, s: socket.socket, n: int) -> None:
        s.settimeout(0.2)
        conn = _Conn(self, s, n)
        try:
            conn.run()
        except (ConnectionError, OSError, _Closed):
            pass
        finally:
            with self._lock:
                if s in self._socks:
                    self._socks.remove(s)
            s.close()


class _Closed(Exception):
    pass


class _Conn:
    def __init__(self, fake: FakePg, s: socket.socket, n: int):
        self.fake, self.s, self.n = fake, s, n
        self.buf = b""
        self.txn = b"I"
        self.stmts = {}    # statement name -> sql
        self.portals = {}  # portal name -> sql

    def recv_exact(self, k: int) -> bytes:
        while len(self.buf) < k:
            if self.fake._stop.is_set():
                raise _Closed()
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                self.fake._event(self.n, "eof")
                raise _Closed()
            self.buf += chunk
        out, self.buf = self.buf[:k], self.buf[k:]
        return out

    def read_msg(self):
        hdr = self.recv_exact(5)
        length = struct.unpack("!I", hdr[1:])[0]
        return hdr[:1], self.recv_exact(length - 4)

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def run(self) -> None:
        self.fake._event(self.n, "connect")
        while True:
            length = struct.unpack("!I", self.recv_exact(4))[0]
            body = self.recv_exact(length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (SSL_CODE, GSSENC_CODE):
                self.send(b"N")
                continue
            if code == CANCEL_CODE:
                self.fake._event(self.n, "cancel")
                return
            break
        parts = body[4:].split(b"\0")
        startup = dict(zip(parts[0::2], parts[1::2]))
        user = startup.get(b"user", b"").decode()
        if self.fake.auth == "scram":
            self.scram()
            return
        out = auth(0)
        for k, v in dict(PARAMS, session_authorization=user).items():
            out += param(k, v)
        out += msg(b"K", struct.pack("!ii", 4242 + self.n, 77))
        out += ready()
        self.send(out)
        self.serve_queries()

    def scram(self) -> None:
        """Ask for SCRAM-SHA-256 and answer the client-first message with a server nonce
        scram_nonce_extra bytes longer than the client's; then fail the login."""
        self.send(auth(10, cstr("SCRAM-SHA-256") + b"\0"))
        t, body = self.read_msg()
        self.fake._event(self.n, "scram-first")
        mech_end = body.index(b"\0")
        first = body[mech_end + 5:].decode()
        cnonce = first.split("r=", 1)[1].split(",")[0]
        snonce = cnonce + "x" * self.fake.scram_nonce_extra
        salt = base64.b64encode(os.urandom(16)).decode()
        self.send(auth(11, f"r={snonce},s={salt},i=4096".encode()))
        t, body = self.read_msg()
        self.fake._event(self.n, "scram-final")
        self.send(error({"S": "FATAL", "V": "FATAL", "C": "28P01",
                         "M": "password authentication failed"}))

    def scripted(self, sql: str):
        with self.fake._lock:
            for needle, raw in self.fake.scripts:
                if needle in sql:
                    return needle, raw
        return None

    def answer(self, sql: str):
        """(columns or None, rows, tag) for one statement."""
        low = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S).strip().lower()
        if "pg_is_in_recovery()" in low:
            replica = self.fake.role == "replica"
            return (["pg_is_in_recovery", "pg_current_wal_lsn", "lag"],
                    [["t" if replica else "f", "0/3000060", "0"]], "SELECT 1")
        if "pg_current_wal_insert_lsn" in low:
            return (["pg_current_wal_insert_lsn"], [["0/3000060"]], "SELECT 1")
        word = low.split()[0] if low.split() else ""
        if word == "begin" or word == "start":
            self.txn = b"T"
            return None, [], "BEGIN"
        if word in ("commit", "end", "rollback", "abort"):
            self.txn = b"I"
            return None, [], "ROLLBACK" if word in ("rollback", "abort") else "COMMIT"
        if word == "select":
            return ["fake"], [["ok"]], "SELECT 1"
        if word == "discard":
            return None, [], " ".join(low.split()[:2]).upper()
        return None, [], word.upper() or "EMPTY"

    def serve_queries(self) -> None:
        batch = []
        while True:
            t, body = self.read_msg()
            if t == b"X":
                self.fake._event(self.n, "terminate")
                return
            if t == b"Q":
                sql = body.rstrip(b"\0").decode(errors="replace")
                self.fake._event(self.n, "query " + sql)
                hit = self.scripted(sql)
                if hit:
                    self.fake._event(self.n, "scripted " + hit[0])
                    self.send(hit[1])
                    continue
                self.send(self.simple(sql))
                continue
            batch.append((t, body))
            if t in (b"S", b"H"):
                self.send(self.extended(batch))
                batch = []

    def simple(self, sql: str) -> bytes:
        out = b""
        stmts = split_sql(sql)
        if not stmts:
            return msg(b"I", b"") + ready(self.txn)
        for st in stmts:
            cols, rows, tag = self.answer(st)
            if cols:
                out += rowdesc(cols)
            for r in rows:
                out += datarow(r)
            out += complete(tag)
        return out + ready(self.txn)

    def extended(self, batch) -> bytes:
        for t, body in batch:
            if t == b"P":
                sql = body.split(b"\0")[1].decode(errors="replace")
                self.fake._event(self.n, "query " + sql)
                hit = self.scripted(sql)
                if hit:
                    self.fake._event(self.n, "scripted " + hit[0])
                    return hit[1]
        out = b""
        for t, body in batch:
            if t == b"P":
                name, sql = body.split(b"\0")[:2]
                self.stmts[name] = sql.decode(errors="replace")
                out += msg(b"1", b"")
            elif t == b"B":
                portal, stmt = body.split(b"\0")[:2]
                self.portals[portal] = self.stmts.get(stmt, "")
                out += msg(b"2", b"")
            elif t == b"D":
                kind, name = body[:1], body[1:].rstrip(b"\0")
                sql = self.stmts.get(name, "") if kind == b"S" else self.portals.get(name, "")
                if kind == b"S":
                    out += msg(b"t", struct.pack("!h", 0))
                cols = self.answer(sql)[0] if sql.strip() else None
                out += rowdesc(cols) if cols else msg(b"n", b"")
            elif t == b"E":
                portal = body.split(b"\0")[0]
                sql = self.portals.get(portal, "")
                if not sql.strip():
                    out += msg(b"I", b"")
                    continue
                cols, rows, tag = self.answer(sql)
                for r in rows:
                    out += datarow(r)
                out += complete(tag)
            elif t == b"C":
                out += msg(b"3", b"")
            elif t == b"S":
                out += ready(self.txn)
        return out


if __name__ == "__main__":
    import sys
    f = FakePg(int(sys.argv[1]) if len(sys.argv) > 1 else 5499)
    print(f"fakepg listening on 127.0.0.1:{f.port}")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        f.stop()
