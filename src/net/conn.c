/* conn: a client stream driven by libuv: reads land directly in the input iobuf (alloc_cb hands
 * out its tail), output goes through two iobufs with one uv_write in flight, and the close is
 * reported exactly once from the uv_close callback. With TLS, reads land in the session's
 * ciphertext buffer and are decrypted into the input at once; output is encrypted at flush. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "core/log.h"
#include "net/conn.h"

/* The smallest read worth a system call when the tail already has room. */
#define PGR_CONN_MIN_READ ((size_t)8192)
/* A TLS record's largest plaintext: what one decryption may produce. */
#define TLS_RECORD_MAX ((size_t)16384)

static void conn_close_cb(uv_handle_t *h);
static void write_cb(uv_write_t *req, int status);

#define SYNC_FLUSH_MAX PGR_CONN_SYNC_FLUSH_MAX

/* ---- raw byte I/O ------------------------------------------------------------------------
 * The only two places that move bytes between the socket and the buffers. With TLS, raw_recv()
 * hands out the session's ciphertext buffer (read_cb then decrypts into c->in, tls_decrypt),
 * and raw_send() sends ciphertext that flush encrypted into out[] (tls_encrypt). */

/* alloc_cb side: where the next read lands (buf), or a zero-length buf to end this wakeup's
 * reads (libuv then reports UV_ENOBUFS). On nread > 0 (done == true) commit nread bytes. The
 * input cap counts plaintext; a ciphertext read is capped the same way (it never decrypts to
 * more than it is). */
static void
raw_recv(pgr_conn_t *c, uv_buf_t *buf, bool done, size_t nread)
{
    pgr_iobuf_t *dst = c->tls ? pgr_tls_rx(c->tls) : &c->in;
    size_t want, room;
    uint8_t *p;

    if (done) {
        pgr_iobuf_commit(dst, nread);
        return;
    }
    *buf = uv_buf_init(NULL, 0);
    if (c->budget == 0)
        return;
    want = c->budget;
    /* Room already at the tail (a partial message being completed) is used as it is, rather
     * than growing the buffer to a full budget. */
    if (pgr_iobuf_tail(dst) >= PGR_CONN_MIN_READ && pgr_iobuf_tail(dst) < want)
        want = pgr_iobuf_tail(dst);
    /* Near the cap, read only what still fits; nothing fits: the peer overran the cap. */
    room = pgr_iobuf_len(&c->in) < c->in.limit ? c->in.limit - pgr_iobuf_len(&c->in) : 0;
    if (want > room)
        want = room;
    if (want == 0) {
        c->in_err = PGR_ELIMIT;
        return;
    }
    p = pgr_iobuf_reserve(dst, want);
    if (p == NULL) {
        c->in_err = PGR_ENOMEM;
        return;
    }
    *buf = uv_buf_init((char *)p, (unsigned)want);
}

/* Send bytes to the socket. sync: try without blocking, returning the count the kernel took
 * (0 when it would block) or a negative libuv error. !sync: start the one asynchronous write
 * over [p, p+n), which must stay put until write_cb; returns 0 or a libuv error. */
static int
raw_send(pgr_conn_t *c, const uint8_t *p, size_t n, bool sync)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int rc;

    if (sync) {
        rc = uv_try_write(&c->h.stream, &b, 1);
        return rc == UV_EAGAIN ? 0 : rc;
    }
    return uv_write(&c->wreq, &c->h.stream, &b, 1, write_cb);
}

/* ---- TLS --------------------------------------------------------------------------------- */

/* The session's sink: ciphertext joins the pending output (never the buffer in flight). The
 * output cap was checked on the plaintext, so it is not checked again here. */
static int
tls_sink(void *arg, const uint8_t *p, size_t n)
{
    pgr_conn_t *c = arg;

    return pgr_iobuf_append(&c->out[c->pend], p, n);
}

/* Decrypt everything the session can give into c->in (and run the handshake, whose replies go
 * to out[] through the sink). Nothing decrypted may be left in the session: no socket event
 * would announce it. Sets *got to the bytes added; returns 0 or the PGR_E* code to close with
 * (PGR_ELIMIT when the plaintext would pass the input cap). */
static int
tls_decrypt(pgr_conn_t *c, size_t *got)
{
    *got = 0;
    for (;;) {
        size_t len = pgr_iobuf_len(&c->in);
        size_t room = len < c->in.limit ? c->in.limit - len : 0;
        size_t want = pgr_iobuf_tail(&c->in) > TLS_RECORD_MAX ? pgr_iobuf_tail(&c->in)
                                                               : TLS_RECORD_MAX;
        if (want > room)
            want = room;
        if (want == 0)
            return pgr_tls_buffered(c->tls) > 0 ? PGR_ELIMIT : 0;
        uint8_t *p = pgr_iobuf_reserve(&c->in, want);
        if (p == NULL)
            return PGR_ENOMEM;
        ssize_t n = pgr_tls_read(c->tls, p, want);
        if (n < 0) {
            if (n != PGR_ECLOSED && pgr_tls_ready(c->tls))
                pgr_debug("conn", "%s: TLS error: %s", c->peer, pgr_tls_error(c->tls));
            else if (n != PGR_ECLOSED)
                pgr_info_rl("conn", "%s: TLS handshake failed: %s", c->peer, pgr_tls_error(c->tls));
            return (int)n;
        }
        if (n == 0)
            return 0;
        pgr_iobuf_commit(&c->in, (size_t)n);
        *got += (size_t)n;
    }
}

/* Encrypt what waits in clear into out[pend], once the handshake allows. Returns false when
 * that failed and the conn is closing. */
static bool
tls_encrypt(pgr_conn_t *c)
{
    int rc;

    if (pgr_iobuf_len(&c->clear) == 0)
        return true;
    rc = pgr_tls_write(c->tls, pgr_iobuf_data(&c->clear), pgr_iobuf_len(&c->clear));
    if (rc == PGR_EBUSY)
        return true; /* handshake still running: read_cb flushes when it ends */
    if (rc != 0) {
        pgr_debug("conn", "%s: TLS write: %s", c->peer, pgr_tls_error(c->tls));
        pgr_conn_close(c, rc == PGR_ENOMEM ? rc : PGR_EIO);
        return false;
    }
    pgr_iobuf_consume(&c->clear, pgr_iobuf_len(&c->clear));
    return true;
}

int
pgr_conn_start_tls(pgr_conn_t *c, pgr_tls_ctx_t *ctx)
{
    if (pgr_conn_is_closing(c))
        return PGR_ECLOSED;
    if (c->tls != NULL || pgr_conn_out_pending(c) > 0 || pgr_iobuf_len(&c->in) > 0)
        return PGR_EBUSY;
    return pgr_tls_session_new(ctx, tls_sink, c, &c->tls);
}

int
pgr_conn_start_tls_direct(pgr_conn_t *c, pgr_tls_ctx_t *ctx)
{
    size_t got;
    int rc;

    if (pgr_conn_is_closing(c))
        return PGR_ECLOSED;
    if (c->tls != NULL || pgr_conn_out_pending(c) > 0)
        return PGR_EBUSY;
    if ((rc = pgr_tls_session_new(ctx, tls_sink, c, &c->tls)) != 0)
        return rc;
    /* What was read in the clear is the start of the handshake. */
    rc = pgr_iobuf_append(pgr_tls_rx(c->tls), pgr_iobuf_data(&c->in), pgr_iobuf_len(&c->in));
    if (rc != 0)
        return rc;
    pgr_iobuf_consume(&c->in, pgr_iobuf_len(&c->in));
    if ((rc = tls_decrypt(c, &got)) != 0)
        return rc;
    pgr_conn_flush(c); /* the server's handshake messages */
    return 0;
}

/* ---- reading ---------------------------------------------------------------------------- */

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    pgr_conn_t *c = pgr_container_of(h, pgr_conn_t, h.handle);

    raw_recv(c, buf, false, 0);
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    pgr_conn_t *c = pgr_container_of(s, pgr_conn_t, h.stream);

    if (nread > 0) {
        raw_recv(c, NULL, true, (size_t)nread);
        c->budget -= (size_t)nread;
        /* A short read ends libuv's read loop for this wakeup: the next one gets a full budget. */
        if ((size_t)nread < buf->len)
            c->budget = PGR_CONN_READ_BUDGET;
        if (c->tls != NULL) {
            size_t got;
            int rc = tls_decrypt(c, &got);
            if (pgr_iobuf_len(pgr_tls_rx(c->tls)) == 0)
                pgr_iobuf_trim(pgr_tls_rx(c->tls));
            if (rc != 0) {
                pgr_conn_close(c, rc);
                return;
            }
            pgr_conn_flush(c); /* handshake replies; plaintext queued before it ended */
            if (got == 0 || c->closing)
                return;
        }
        c->cbs->on_read(c, c->arg);
        if (!c->closing && pgr_iobuf_len(&c->in) == 0)
            pgr_iobuf_trim(&c->in);
        return;
    }
    c->budget = PGR_CONN_READ_BUDGET;
    if (nread == 0) {
        /* EAGAIN: the buffer handed out went unused. */
        if (pgr_iobuf_len(&c->in) == 0)
            pgr_iobuf_trim(&c->in);
        return;
    }
    if (nread == UV_ENOBUFS) {
        /* Either the budget ran out (next wakeup continues) or the input cannot grow. */
        if (c->in_err != 0) {
            pgr_debug("conn", "%s: input buffer: %s (%zu bytes buffered)", c->peer,
                      pgr_strerror(c->in_err), pgr_iobuf_len(&c->in));
            pgr_conn_close(c, c->in_err);
        }
        return;
    }
    if (nread == UV_EOF) {
        pgr_conn_close(c, PGR_ECLOSED);
        return;
    }
    pgr_debug("conn", "%s: read: %s", c->peer, uv_strerror((int)nread));
    pgr_conn_close(c, PGR_EIO);
}

void
pgr_conn_read_start(pgr_conn_t *c)
{
    if (c->reading || pgr_conn_is_closing(c))
        return;
    if (uv_read_start(&c->h.stream, alloc_cb, read_cb) != 0) {
        pgr_conn_close(c, PGR_EIO);
        return;
    }
    c->reading = 1;
}

void
pgr_conn_read_stop(pgr_conn_t *c)
{
    if (!c->reading)
        return;
    uv_read_stop(&c->h.stream);
    c->reading = 0;
}

/* ---- accept, peer ----------------------------------------------------------------------- */

static void
format_peer(pgr_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];

    snprintf(c->peer, sizeof(c->peer), "unix");
    if (c->h.handle.type != UV_TCP)
        return;
    snprintf(c->peer, sizeof(c->peer), "?");
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip)) != NULL)
            snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)) != NULL)
            snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    }
}

bool
pgr_conn_is_local(pgr_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (c->h.handle.type == UV_NAMED_PIPE)
        return true;
    if (c->h.handle.type != UV_TCP ||
        uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

int
pgr_conn_accept(uv_stream_t *server, pgr_conn_t *c, const pgr_conn_cbs_t *cbs, void *arg)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->cbs = cbs;
    c->arg = arg;
    c->budget = PGR_CONN_READ_BUDGET;
    c->out_limit = PGR_IOBUF_DEFAULT_LIMIT;
    pgr_iobuf_init(&c->in, 0);
    pgr_iobuf_init(&c->out[0], 0);
    pgr_iobuf_init(&c->out[1], 0);
    pgr_iobuf_init(&c->clear, 0);
    c->tls = NULL;
    snprintf(c->peer, sizeof(c->peer), "?");

    /* uv_tcp_init (AF_UNSPEC) and uv_pipe_init cannot fail: no socket exists yet. */
    if (server->type == UV_TCP)
        rc = uv_tcp_init(server->loop, &c->h.tcp);
    else
        rc = uv_pipe_init(server->loop, &c->h.pipe, 0);
    pgr_assert(rc == 0);

    rc = uv_accept(server, &c->h.stream);
    if (rc != 0) {
        pgr_warn_rl("conn", "accept: %s", uv_strerror(rc));
        pgr_conn_close(c, PGR_EIO);
        return PGR_EIO;
    }
    if (server->type == UV_TCP)
        (void)uv_tcp_nodelay(&c->h.tcp, 1);
    format_peer(c);
    pgr_conn_read_start(c);
    return c->closing ? PGR_EIO : 0;
}

void
pgr_conn_set_limits(pgr_conn_t *c, size_t in_limit, size_t out_limit, size_t low_water)
{
    c->in.limit = in_limit ? in_limit : PGR_IOBUF_DEFAULT_LIMIT;
    c->out_limit = out_limit ? out_limit : PGR_IOBUF_DEFAULT_LIMIT;
    c->low_water = low_water;
}

/* ---- writing ---------------------------------------------------------------------------- */

size_t
pgr_conn_out_pending(const pgr_conn_t *c)
{
    /* clear is empty on a plain conn. */
    return pgr_iobuf_len(&c->out[0]) + pgr_iobuf_len(&c->out[1]) + pgr_iobuf_len(&c->clear);
}

/* Where new plaintext output goes. */
static inline pgr_iobuf_t *
out_tail(pgr_conn_t *c)
{
    return c->tls ? &c->clear : &c->out[c->pend];
}

/* Release output memory once nothing is pending or in flight. */
static void
out_trim(pgr_conn_t *c)
{
    if (!c->writing && pgr_conn_out_pending(c) == 0) {
        pgr_iobuf_trim(&c->out[0]);
        pgr_iobuf_trim(&c->out[1]);
        if (c->tls)
            pgr_iobuf_trim(&c->clear);
    }
}

void
pgr_conn_flush(pgr_conn_t *c)
{
    pgr_iobuf_t *b = &c->out[c->pend];
    int rc;

    if (c->closing || c->writing)
        return;
    /* Plaintext is encrypted only here, when no write is in flight, so what piled up while one
     * was becomes one batch of full records. */
    if (c->tls && !tls_encrypt(c))
        return;
    if (pgr_iobuf_len(b) == 0) {
        out_trim(c);
        if (c->close_pending)
            pgr_conn_close(c, c->reason);
        return;
    }
    /* A small output is first tried without blocking: when the socket takes it all, as it
     * usually does, no uv_write is started — that would cost an epoll_ctl for the write watch
     * and a loop turn for its callback on every reply. No one can be waiting for on_drain
     * then: writers pause only above SYNC_FLUSH_MAX (see conn.h), and a pause ends in
     * write_cb. */
    if (pgr_iobuf_len(b) <= SYNC_FLUSH_MAX && pgr_conn_out_pending(c) == pgr_iobuf_len(b)) {
        rc = raw_send(c, pgr_iobuf_data(b), pgr_iobuf_len(b), true);
        if (rc < 0) {
            pgr_debug("conn", "%s: write: %s", c->peer, uv_strerror(rc));
            pgr_conn_close(c, PGR_EIO);
            return;
        }
        pgr_iobuf_consume(b, (size_t)rc);
        if (pgr_iobuf_len(b) == 0) {
            out_trim(c);
            if (c->close_pending)
                pgr_conn_close(c, c->reason);
            return;
        }
    }
    /* The pending buffer becomes the in-flight one; new bytes go to the other. */
    rc = raw_send(c, pgr_iobuf_data(b), pgr_iobuf_len(b), false);
    if (rc != 0) {
        pgr_debug("conn", "%s: write: %s", c->peer, uv_strerror(rc));
        pgr_conn_close(c, PGR_EIO);
        return;
    }
    c->writing = 1;
    c->pend = !c->pend;
}

static void
write_cb(uv_write_t *req, int status)
{
    pgr_conn_t *c = pgr_container_of(req, pgr_conn_t, wreq);
    pgr_iobuf_t *done = &c->out[!c->pend];

    c->writing = 0;
    if (status < 0) {
        /* UV_ECANCELED: the handle is closing; buffers are freed in the close callback. */
        if (status != UV_ECANCELED)
            pgr_debug("conn", "%s: write: %s", c->peer, uv_strerror(status));
        pgr_conn_close(c, PGR_EIO);
        return;
    }
    pgr_iobuf_consume(done, pgr_iobuf_len(done));
    if (c->closing)
        return;
    pgr_conn_flush(c);
    if (c->closing || c->close_pending)
        return;
    if (pgr_conn_out_pending(c) <= c->low_water && c->cbs->on_drain != NULL)
        c->cbs->on_drain(c, c->arg);
}

int
pgr_conn_write(pgr_conn_t *c, const void *p, size_t n)
{
    const uint8_t *bytes = p;
    int rc;

    if (pgr_conn_is_closing(c))
        return PGR_ECLOSED;
    if (n == 0)
        return 0;
    /* The cap is checked before any byte goes out, so a refused write sends nothing. */
    if (pgr_conn_out_pending(c) > c->out_limit || n > c->out_limit - pgr_conn_out_pending(c))
        return PGR_ELIMIT;
    if (c->tls && pgr_iobuf_len(&c->clear) == 0 && pgr_tls_ready(c->tls)) {
        /* Encrypt from the caller's bytes; nothing older waits in clear, so the order holds. */
        rc = pgr_tls_write(c->tls, bytes, n);
        if (rc != 0) {
            pgr_debug("conn", "%s: TLS write: %s", c->peer, pgr_tls_error(c->tls));
            rc = rc == PGR_ENOMEM ? rc : PGR_EIO;
            pgr_conn_close(c, rc);
            return rc;
        }
        pgr_conn_flush(c);
        return c->closing ? PGR_EIO : 0;
    }
    if (!c->tls && !c->writing && pgr_conn_out_pending(c) == 0) {
        rc = raw_send(c, bytes, n, true);
        if (rc < 0) {
            pgr_debug("conn", "%s: write: %s", c->peer, uv_strerror(rc));
            pgr_conn_close(c, PGR_EIO);
            return PGR_EIO;
        }
        bytes += rc;
        n -= (size_t)rc;
        if (n == 0)
            return 0;
    }
    rc = pgr_iobuf_append(out_tail(c), bytes, n);
    if (rc != 0) {
        pgr_warn_rl("conn", "%s: queueing %zu output bytes: %s", c->peer, n, pgr_strerror(rc));
        pgr_conn_close(c, rc);
        return rc;
    }
    pgr_conn_flush(c);
    return c->closing ? PGR_EIO : 0;
}

uint8_t *
pgr_conn_out_reserve(pgr_conn_t *c, size_t n)
{
    size_t pending = pgr_conn_out_pending(c);

    if (pgr_conn_is_closing(c) || pending > c->out_limit || n > c->out_limit - pending)
        return NULL;
    return pgr_iobuf_reserve(out_tail(c), n);
}

void
pgr_conn_out_commit(pgr_conn_t *c, size_t n)
{
    pgr_iobuf_commit(out_tail(c), n);
}

/* ---- closing ---------------------------------------------------------------------------- */

void
pgr_conn_close(pgr_conn_t *c, int reason)
{
    if (c->closing)
        return;
    if (!c->close_pending)
        c->reason = reason;
    c->closing = 1;
    pgr_conn_read_stop(c);
    /* An in-flight write gets UV_ECANCELED before conn_close_cb runs. */
    uv_close(&c->h.handle, conn_close_cb);
}

void
pgr_conn_close_after_flush(pgr_conn_t *c, int reason)
{
    if (pgr_conn_is_closing(c))
        return;
    c->reason = reason;
    c->close_pending = 1;
    pgr_conn_read_stop(c);
    if (c->tls && !c->writing) {
        /* The last plaintext, then close_notify behind it (a write in flight: write_cb's flush
         * sends the plaintext; the alert is skipped, as a lost one only costs the peer a
         * clean-EOF check). */
        if (!tls_encrypt(c))
            return;
        if (pgr_iobuf_len(&c->clear) == 0)
            pgr_tls_shutdown(c->tls);
    }
    pgr_conn_flush(c);
}

static void
conn_close_cb(uv_handle_t *h)
{
    pgr_conn_t *c = pgr_container_of(h, pgr_conn_t, h.handle);

    pgr_iobuf_free(&c->in);
    pgr_iobuf_free(&c->out[0]);
    pgr_iobuf_free(&c->out[1]);
    pgr_iobuf_free(&c->clear);
    pgr_tls_session_free(c->tls);
    c->tls = NULL;
    c->cbs->on_close(c, c->arg, c->reason);
}
