#!/usr/bin/python3
"""Open N PostgreSQL client connections and keep them idle.

    idle_clients.py HOST PORT N [--user U] [--dbname D] [--concurrency C]

Each connection does a real v3 startup (StartupMessage, trust authentication only) and waits
for ReadyForQuery, then sends nothing more. When all N are ready the program prints
"ready N SECONDS" on stdout and holds them until stdin is closed (or it gets SIGTERM/SIGINT);
then it sends Terminate on each and exits 0. A connection that fails prints "failed K FIRST-ERROR"
instead of "ready" and the program exits 1 after closing the rest.

A raw asyncio client (not libpq) so that 10,000 connections cost this process little memory and
open quickly; the proxy under test sees exactly what a libpq client sends at startup.
"""
import argparse
import asyncio
import signal
import struct
import sys
import time


def startup_message(user: str, dbname: str) -> bytes:
    body = struct.pack("!i", 196608)
    for k, v in (("user", user), ("database", dbname), ("application_name", "idle_clients")):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


async def open_one(host, port, msg):
    """Connect and read until ReadyForQuery. Returns the writer; raises on any error."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(msg)
        await writer.drain()
        while True:
            hdr = await reader.readexactly(5)
            kind, length = hdr[:1], struct.unpack("!i", hdr[1:])[0]
            if length < 4 or length > 1 << 20:
                raise RuntimeError(f"bad message length {length}")
            body = await reader.readexactly(length - 4)
            if kind == b"E":
                fields = dict((f[:1], f[1:].decode(errors="replace"))
                              for f in body.split(b"\0") if f)
                raise RuntimeError(f"{fields.get(b'C', '?')} {fields.get(b'M', '?')}")
            if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                raise RuntimeError("server asked for a password; idle_clients does trust only")
            if kind == b"Z":
                return writer
    except BaseException:
        writer.close()
        raise


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--user", default="app")
    ap.add_argument("--dbname", default="app")
    ap.add_argument("--concurrency", type=int, default=100)
    a = ap.parse_args()

    msg = startup_message(a.user, a.dbname)
    sem = asyncio.Semaphore(a.concurrency)
    writers = []
    errors = []

    async def one():
        async with sem:
            try:
                writers.append(await asyncio.wait_for(open_one(a.host, a.port, msg), 30))
            except Exception as e:  # noqa: BLE001 - every failure is reported, none hidden
                errors.append(repr(e))

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(a.n)))
    took = time.monotonic() - t0
    if errors:
        print(f"failed {len(errors)} {errors[0]}", flush=True)
    else:
        print(f"ready {len(writers)} {took:.2f}", flush=True)

        # Hold until stdin closes or a signal arrives.
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, done.set)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        async def stdin_eof():
            await reader.read()
            done.set()

        watcher = asyncio.ensure_future(stdin_eof())
        await done.wait()
        watcher.cancel()

    for w in writers:
        try:
            w.write(b"X\0\0\0\4")
            w.close()
        except Exception:  # noqa: BLE001 - the peer may be gone already
            pass
    await asyncio.sleep(0.2)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
