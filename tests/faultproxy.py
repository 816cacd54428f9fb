"""A TCP fault proxy on 127.0.0.1 in front of one server, with faults switched at run time.

    proxy = FaultProxy(listen_port, "127.0.0.1", node_port)
    proxy.latency(0.2, jitter=0.05, direction="down")  # each chunk 200 ms +- 50 ms late, in order
    proxy.blackhole(True)   # nothing forwarded either way; new connections accepted, never served
    proxy.blackhole(False)  # forwarding resumes (what the peers sent meanwhile is delivered)
    proxy.reset()           # every current connection closed with RST (SO_LINGER 0), both sides
    proxy.slicing(1, gap=0.0005)   # forwarded in chunks of 1 byte, 0.5 ms apart
    proxy.bandwidth(1_000_000)     # at most 1 MB/s per connection and direction
    proxy.clear()           # no latency, slicing or bandwidth limit (blackhole is left as is)
    proxy.stop()            # closes every socket, joins every thread

direction is "up" (client to server), "down" (server to client) or "both" (the default).

Each accepted connection gets an upstream connection and, per direction, a reader thread (recv
into a queue, each chunk stamped with the time it may leave) and a writer thread (waits for that
time, then sends, sliced and rate-limited), so a latency delays every chunk without serializing
them and keeps their order. Sockets have short timeouts so every thread sees stop(), reset()
and blackhole switches within 0.1 s. Counters: proxy.accepted, proxy.resets, and per
direction proxy.forwarded (bytes) and proxy.sends (the send() calls that sent them).

Stdlib only. Run alone (python3 tests/faultproxy.py listen_port target_port) it forwards until
interrupted.
"""
import queue
import random
import socket
import struct
import threading
import time

TICK = 0.1
CHUNK = 65536
DIRECTIONS = ("up", "down")


def _dirs(direction):
    if direction == "both":
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be up, down or both, not {direction!r}")
    return (direction,)


class _Conn:
    """One proxied connection: the client's socket, the upstream one, four threads."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.upstream = None
        self.closed = threading.Event()
        self.threads = []
        self._done = 0
        self._lock = threading.Lock()

    def start(self):
        t = threading.Thread(target=self._run, daemon=True, name="faultproxy-conn")
        t.start()
        self.threads.append(t)

    def _run(self):
        p = self.proxy
        # A dead path: the kernel completed the handshake, nothing else happens until it heals.
        while p._blackholed() and not self.closed.is_set():
            time.sleep(TICK / 2)
        if self.closed.is_set():
            return
        try:
            up = socket.create_connection((p.target_host, p.target_port), timeout=5)
        except OSError:
            self.close()
            return
        with self._lock:
            if self.closed.is_set():
                up.close()
                return
            self.upstream = up
        for s in (self.client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(TICK)
        for direction, src, dst in (("up", self.client, up), ("down", up, self.client)):
            q = queue.Queue(maxsize=16)
            for target, args in ((self._reader, (direction, src, q)),
                                 (self._writer, (direction, dst, q))):
                t = threading.Thread(target=target, args=args, daemon=True,
                                     name=f"faultproxy-{direction}")
                t.start()
                self.threads.append(t)

    def _reader(self, direction, src, q):
        p = self.proxy
        while not self.closed.is_set():
            if p._blackholed():
                time.sleep(TICK / 2)
                continue
            try:
                data = src.recv(CHUNK)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            self._put(q, (time.monotonic() + p._delay(direction), data))
        self._put(q, (0, None))  # the end of this direction

    def _put(self, q, item):
        # A bounded queue: a slow writer (bandwidth, slicing) holds the sender back, as TCP would.
        while not self.closed.is_set():
            try:
                q.put(item, timeout=TICK)
                return
            except queue.Full:
                continue

    def _writer(self, direction, dst, q):
        last_due = 0.0
        try:
            while not self.closed.is_set():
                try:
                    due, data = q.get(timeout=TICK)
                except queue.Empty:
                    continue
                if data is None:
                    # The source closed: pass its FIN on, the other direction may go on.
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                due = max(due, last_due)  # jitter never reorders chunks
                last_due = due
                if not self._sleep_until(due):
                    return
                self._send(direction, dst, data)
        except OSError:
            self.close()
        with self._lock:
            self._done += 1
            both = self._done == 2
        if both:
            self.close()  # both directions ended: nothing more to forward

    def _sleep_until(self, t):
        while not self.closed.is_set():
            now = time.monotonic()
            if now >= t and not self.proxy._blackholed():
                return True
            time.sleep(min(max(t - now, 0.0005), TICK / 2))
        return False

    def _send(self, direction, dst, data):
        p = self.proxy
        view = memoryview(data)
        while view and not self.closed.is_set():
            k, gap, bps = p._shape(direction)
            piece = view[:k] if k else view
            t0 = time.monotonic()
            sent = 0
            while sent < len(piece):
                if self.closed.is_set():
                    return
                if p._blackholed():
                    time.sleep(TICK / 2)
                    continue
                try:
                    n = dst.send(piece[sent:])
                except socket.timeout:
                    continue
                sent += n
                with p._lock:
                    p.forwarded[direction] += n
                    p.sends[direction] += 1
            view = view[len(piece):]
            wait = gap
            if bps:
                wait = max(wait, len(piece) / bps - (time.monotonic() - t0))
            if wait > 0:
                self._sleep_until(time.monotonic() + wait)

    def close(self, rst=False):
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
            socks = [s for s in (self.client, self.upstream) if s is not None]
        for s in socks:
            try:
                if rst:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass

    def join(self, timeout=5.0):
        """Join every thread of this connection, also those _run starts meanwhile (after
        close() it starts none, but may be between starting one and listing it)."""
        deadline = time.monotonic() + timeout
        joined = 0
        while joined < len(self.threads) and time.monotonic() < deadline:
            for t in list(self.threads[joined:]):
                t.join(max(0.0, deadline - time.monotonic()))
                joined += 1


class FaultProxy:
    def __init__(self, port, target_host, target_port):
        self.port = port
        self.target_host = target_host
        self.target_port = target_port
        self.accepted = 0
        self.resets = 0
        self.forwarded = {d: 0 for d in DIRECTIONS}   # bytes sent on, per direction
        self.sends = {d: 0 for d in DIRECTIONS}       # send() calls that sent them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._blackhole = False
        self._latency = {d: (0.0, 0.0) for d in DIRECTIONS}
        self._slice = {d: (0, 0.0) for d in DIRECTIONS}
        self._bps = {d: 0 for d in DIRECTIONS}
        self._conns = []
        self._rand = random.Random()
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", port))
        self._lsock.listen(128)
        self._lsock.settimeout(TICK)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"faultproxy-{port}")
        self._thread.start()

    # ---- the test's side ---------------------------------------------------------------

    def latency(self, fixed, jitter=0.0, direction="both"):
        """Delay each chunk by fixed +- jitter seconds (uniform), keeping their order."""
        if fixed < 0 or jitter < 0 or jitter > fixed:
            raise ValueError("need 0 <= jitter <= fixed")
        with self._lock:
            for d in _dirs(direction):
                self._latency[d] = (float(fixed), float(jitter))

    def blackhole(self, on=True):
        """Stop (or resume) forwarding both ways; connections accepted meanwhile wait, their
        upstream connection made only once the blackhole is lifted."""
        with self._lock:
            self._blackhole = bool(on)

    def reset(self):
        """Close every current connection, both its sockets, with RST; return how many."""
        with self._lock:
            conns = [c for c in self._conns if not c.closed.is_set()]
            self.resets += len(conns)
        for c in conns:
            c.close(rst=True)
        for c in conns:
            c.join()
        return len(conns)

    def slicing(self, k, gap=0.001, direction="both"):
        """Forward in chunks of k bytes (0: whole), gap seconds apart."""
        with self._lock:
            for d in _dirs(direction):
                self._slice[d] = (int(k), float(gap))

    def bandwidth(self, bytes_per_second, direction="both"):
        """At most this many bytes per second per connection and direction (0: unlimited)."""
        with self._lock:
            for d in _dirs(direction):
                self._bps[d] = float(bytes_per_second)

    def clear(self):
        with self._lock:
            for d in DIRECTIONS:
                self._latency[d] = (0.0, 0.0)
                self._slice[d] = (0, 0.0)
                self._bps[d] = 0

    def connections(self):
        with self._lock:
            return sum(1 for c in self._conns if not c.closed.is_set())

    def stop(self):
        """Close every socket and join every thread; return the threads still alive (none
        unless one is stuck)."""
        self._stop.set()
        self._thread.join(5)
        self._lsock.close()
        with self._lock:
            conns = list(self._conns)  # every connection ever: closed ones' threads joined too
        for c in conns:
            c.close()
        for c in conns:
            c.join()
        return [t for c in conns for t in c.threads if t.is_alive()] + (
            [self._thread] if self._thread.is_alive() else [])

    # ---- the proxy's side --------------------------------------------------------------

    def _blackholed(self):
        return self._blackhole or self._stop.is_set()

    def _delay(self, direction):
        with self._lock:
            fixed, jitter = self._latency[direction]
            return fixed + (self._rand.uniform(-jitter, jitter) if jitter else 0.0)

    def _shape(self, direction):
        with self._lock:
            k, gap = self._slice[direction]
            return k, gap, self._bps[direction]

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c = _Conn(self, s)
            with self._lock:
                if self._stop.is_set():
                    s.close()
                    break
                self.accepted += 1
                self._conns.append(c)
            c.start()


if __name__ == "__main__":
    import sys
    p = FaultProxy(int(sys.argv[1]), "127.0.0.1", int(sys.argv[2]))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        p.stop()
