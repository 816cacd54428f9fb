/* conn: one client stream (TCP or Unix socket) on the loop: an input buffer filled straight from
 * the socket, a two-buffer output side with at most one write in flight, read backpressure,
 * a close that reports exactly once, and optional TLS underneath (pgr_conn_start_tls), which
 * the owner sees only as plaintext. */
#ifndef PGR_NET_CONN_H
#define PGR_NET_CONN_H

#include <uv.h>

#include "core/base.h"
#include "net/iobuf.h"
#include "net/tls.h"

typedef struct pgr_conn pgr_conn_t;

/* Events, all called from the loop, never from inside the pgr_conn_* call that caused them.
 *   on_read   new bytes were appended to c->in; consume what you can with
 *             pgr_iobuf_consume(&c->in, n) and leave the rest (a partial message) there.
 *   on_drain  an asynchronous write finished and pgr_conn_out_pending(c) <= the low-water
 *             mark (0 by default). May come more than once; it means "you may write more".
 *             A write that completed synchronously inside pgr_conn_write/flush is not
 *             reported: check pgr_conn_out_pending() after writing.
 *   on_close  exactly once per accepted conn, from the uv_close callback; reason is the
 *             PGR_E* code that started the close (PGR_ECLOSED for the peer's EOF, PGR_EIO for a
 *             socket error, PGR_ELIMIT for input over the cap, or what pgr_conn_close got).
 *             The owner frees the memory holding c here and only here.
 * on_drain may be NULL. */
typedef struct pgr_conn_cbs {
    void (*on_read)(pgr_conn_t *c, void *arg);
    void (*on_drain)(pgr_conn_t *c, void *arg);
    void (*on_close)(pgr_conn_t *c, void *arg, int reason);
} pgr_conn_cbs_t;

/* Bytes read from one socket per loop wakeup before yielding to the others. */
#define PGR_CONN_READ_BUDGET ((size_t)64 * 1024)

/* Embedded by its owner (the client session). Only `in` is for the owner to touch, through
 * pgr_iobuf_*; every other field is private to conn.c.
 *
 * Output: out[pend] takes new bytes (write / out_reserve+commit); out[!pend] is the buffer a
 * uv_write is reading from while WRITING is set, so its bytes never move under libuv. When
 * that write completes the buffers swap roles. Both are freed when output drains.
 *
 * With TLS (tls != NULL) the same two buffers carry ciphertext, and plaintext waits in clear:
 *
 *   write / out_reserve+commit ──► clear ──(flush: encrypt)──► out[pend] ──► out[!pend] ──► socket
 *   socket ──► tls rx (ciphertext) ──(read_cb: decrypt all)──► in
 *
 * A write with nothing in clear and the handshake done is encrypted straight from the caller's
 * bytes. clear is empty and unallocated on a plain conn, so the plain path moves no extra byte. */
struct pgr_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_write_t wreq;
    pgr_iobuf_t in;
    pgr_iobuf_t out[2];
    pgr_tls_session_t *tls; /* NULL: plaintext */
    pgr_iobuf_t clear;      /* TLS: plaintext not yet encrypted */
    const pgr_conn_cbs_t *cbs;
    void *arg;
    size_t budget;     /* read bytes left in this wakeup */
    size_t low_water;  /* on_drain threshold */
    size_t out_limit;  /* cap on pgr_conn_out_pending() */
    int reason;        /* why the close started */
    int in_err;        /* why alloc_cb refused a buffer (PGR_ELIMIT / PGR_ENOMEM), or 0 */
    unsigned pend : 1, reading : 1, writing : 1, closing : 1, close_pending : 1;
    char peer[56];     /* "127.0.0.1:50432", "[::1]:50432", "unix" */
};

/* Take the connection waiting on server (a listening uv_tcp_t or uv_pipe_t, from the
 * listener's accept_cb) into c (caller's memory, need not be zeroed) and start reading.
 * Whatever it returns, c holds an initialised handle afterwards and cbs->on_close(c, arg, ..)
 * WILL be called exactly once later: on failure (returned, e.g. PGR_EIO) the conn is already
 * closing. Free c only in on_close. cbs must outlive c. */
int pgr_conn_accept(uv_stream_t *server, pgr_conn_t *c, const pgr_conn_cbs_t *cbs, void *arg);

/* Caps and thresholds; call right after accept. in_limit caps c->in (0: default, 1 GiB + 5);
 * out_limit caps pending output (0: same default); low_water is the on_drain mark. */
void pgr_conn_set_limits(pgr_conn_t *c, size_t in_limit, size_t out_limit, size_t low_water);

/* pgr_conn_flush writes up to this much pending output at once, without a uv_write, when the
 * socket takes it. A writer that pauses for on_drain must pause only above this mark. */
#define PGR_CONN_SYNC_FLUSH_MAX (64 * 1024)

/* Backpressure: stop / resume reading (idempotent; no-ops once closing). read_start does not
 * replay bytes already in c->in. */
void pgr_conn_read_start(pgr_conn_t *c);
void pgr_conn_read_stop(pgr_conn_t *c);

/* Queue n bytes. With nothing queued, writes straight to the socket first (uv_try_write) and
 * copies only what the socket did not take. Returns 0; PGR_ECLOSED once closing;
 * PGR_ELIMIT if pending output would pass out_limit (nothing queued, conn stays open);
 * PGR_EIO or PGR_ENOMEM after which the conn is closing (on_close follows). */
int pgr_conn_write(pgr_conn_t *c, const void *p, size_t n) PGR_MUSTCHECK;

/* Zero-copy output: at least n writable bytes at the tail of the pending output (NULL when
 * closing, over out_limit, or out of memory), then commit what was written and flush. The
 * pointer is valid until the next write/reserve/flush on c. */
uint8_t *pgr_conn_out_reserve(pgr_conn_t *c, size_t n);
void pgr_conn_out_commit(pgr_conn_t *c, size_t n);
/* Start writing committed bytes if no write is in flight. */
void pgr_conn_flush(pgr_conn_t *c);
/* Bytes queued and not yet taken by the kernel (in flight included; with TLS, plaintext not yet
 * encrypted plus ciphertext). */
size_t pgr_conn_out_pending(const pgr_conn_t *c);

/* Close now: stop reading, drop queued output, uv_close; on_close(reason) follows. Idempotent:
 * only the first call's reason counts. */
void pgr_conn_close(pgr_conn_t *c, int reason);
/* Stop reading, write everything queued, then close with reason (for a final ErrorResponse).
 * Writes after this fail with PGR_ECLOSED. A peer that never reads holds the conn open: the
 * owner bounds that with its own timer and pgr_conn_close(). */
void pgr_conn_close_after_flush(pgr_conn_t *c, int reason);
static inline bool
pgr_conn_is_closing(const pgr_conn_t *c)
{
    return c->closing || c->close_pending;
}

/* Switch the conn to TLS as the server side, with ctx: call it right after writing the 'S' that
 * answers an SSLRequest. Every later byte in either direction is TLS; the handshake runs as the
 * client's bytes arrive (bound it with the owner's login timer) and on_read fires only for
 * decrypted bytes. A failed handshake closes the conn (PGR_EIO, logged with OpenSSL's reason).
 * Returns 0; PGR_EBUSY when output is still queued or input is buffered (bytes sent before the
 * answer, which must not be read as either plaintext or TLS), PGR_ECLOSED once closing,
 * PGR_ENOMEM. On failure the conn is unchanged. */
int pgr_conn_start_tls(pgr_conn_t *c, pgr_tls_ctx_t *ctx) PGR_MUSTCHECK;
/* Direct TLS (PostgreSQL 17's sslnegotiation=direct): the peer began with a TLS ClientHello
 * instead of an SSLRequest. The bytes already read become the handshake's first ciphertext,
 * and the server's reply is sent. Same returns as pgr_conn_start_tls, or a TLS failure's code
 * (the caller closes). */
int pgr_conn_start_tls_direct(pgr_conn_t *c, pgr_tls_ctx_t *ctx) PGR_MUSTCHECK;
/* NULL on a plain conn; else the negotiated protocol ("TLSv1.3"), "" until the handshake ends. */
static inline const char *
pgr_conn_tls_version(const pgr_conn_t *c)
{
    return c->tls ? pgr_tls_version(c->tls) : NULL;
}
/* true for a Unix-socket conn (where TLS is never offered nor required). */
static inline bool
pgr_conn_is_unix(const pgr_conn_t *c)
{
    return c->h.handle.type == UV_NAMED_PIPE;
}

/* true for a Unix-socket conn or a TCP peer on a loopback address (127.0.0.0/8, ::1, or
 * ::ffff:127.x): a client on this machine. */
bool pgr_conn_is_local(pgr_conn_t *c);

/* The peer's address for log lines: "127.0.0.1:50432", "[::1]:50432" or "unix". */
static inline const char *pgr_conn_peer(const pgr_conn_t *c) { return c->peer; }

#endif
