/* Non-blocking CancelRequest over a fresh libuv stream, bounded by a timer. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "backend/cancel.h"
#include "core/log.h"

typedef struct cancel_req {
    pgr_list_t link; /* in the caller's set while any handle is open */
    union {
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } s;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    unsigned char pkt[16];
    char rbuf[64];
    int pending_closes;
    bool done;
    pgr_cancel_cb cb;
    void *arg;
} cancel_req_t;

void
pgr_cancel_packet(unsigned char out[16], uint32_t pid, uint32_t key)
{
    uint32_t words[4] = { htonl(16), htonl(80877102), htonl(pid), htonl(key) };
    memcpy(out, words, 16);
}

static void
closed(uv_handle_t *h)
{
    cancel_req_t *r = h->data;
    if (--r->pending_closes == 0) {
        pgr_list_remove(&r->link);
        free(r);
    }
}

/* Report once and close both handles; memory goes in the last close callback. */
static void
finish(cancel_req_t *r, int status)
{
    if (r->done)
        return;
    r->done = true;
    if (r->cb)
        r->cb(status, r->arg);
    r->pending_closes = 2;
    uv_close((uv_handle_t *)&r->s.stream, closed);
    uv_close((uv_handle_t *)&r->timer, closed);
}

static void
on_timeout(uv_timer_t *t)
{
    finish(t->data, PGR_ETIMEDOUT);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    cancel_req_t *r = h->data;
    *buf = uv_buf_init(r->rbuf, sizeof(r->rbuf));
}

/* The postmaster reads the request and closes; anything else it sends is ignored. */
static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n == UV_EOF)
        finish(s->data, 0);
    else if (n < 0)
        finish(s->data, PGR_ECONNECT);
}

static void
on_write(uv_write_t *w, int status)
{
    cancel_req_t *r = w->data;
    if (r->done)
        return;
    if (status < 0 || uv_read_start(&r->s.stream, on_alloc, on_read) != 0)
        finish(r, PGR_ECONNECT);
}

static void
on_connect(uv_connect_t *c, int status)
{
    cancel_req_t *r = c->data;
    if (r->done)
        return;
    if (status < 0) {
        finish(r, PGR_ECONNECT);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)r->pkt, sizeof(r->pkt));
    r->write.data = r;
    if (uv_write(&r->write, &r->s.stream, &b, 1, on_write) != 0)
        finish(r, PGR_ECONNECT);
}

int
pgr_cancel_send(uv_loop_t *loop, pgr_list_t *set, const char *host, int port, uint32_t pid,
                uint32_t key, int64_t timeout_ms, pgr_cancel_cb cb, void *arg)
{
    struct sockaddr_storage ss;
    int rc;

    memset(&ss, 0, sizeof(ss));
    if (host[0] != '/') {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        if (uv_ip4_addr(host, port, a4) != 0 && uv_ip6_addr(host, port, a6) != 0)
            return PGR_EINVAL;
    }
    cancel_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return PGR_ENOMEM;
    pgr_cancel_packet(r->pkt, pid, key);
    r->cb = cb;
    r->arg = arg;
    if (host[0] == '/')
        rc = uv_pipe_init(loop, &r->s.pipe, 0);
    else
        rc = uv_tcp_init(loop, &r->s.tcp);
    if (rc != 0) {
        free(r);
        return PGR_EIO;
    }
    uv_timer_init(loop, &r->timer);
    r->s.stream.data = r;
    r->timer.data = r;
    r->connect.data = r;
    pgr_list_init(&r->link);
    pgr_list_push_back(set, &r->link);
    if (host[0] == '/') {
        char path[512];
        snprintf(path, sizeof(path), "%s/.s.PGSQL.%d", host, port);
        uv_pipe_connect(&r->connect, &r->s.pipe, path, on_connect);
    } else if (uv_tcp_connect(&r->connect, &r->s.tcp, (struct sockaddr *)&ss, on_connect) != 0) {
        r->done = true; /* fail without calling back */
        r->pending_closes = 2;
        uv_close((uv_handle_t *)&r->s.stream, closed);
        uv_close((uv_handle_t *)&r->timer, closed);
        return PGR_ECONNECT;
    }
    uv_timer_start(&r->timer, on_timeout, (uint64_t)(timeout_ms > 0 ? timeout_ms : 1), 0);
    return 0;
}

void
pgr_cancel_abort_all(pgr_list_t *set)
{
    pgr_list_t *pos, *tmp;
    pgr_list_foreach_safe(pos, tmp, set) {
        finish(pgr_container_of(pos, cancel_req_t, link), PGR_ESHUTDOWN);
    }
}
