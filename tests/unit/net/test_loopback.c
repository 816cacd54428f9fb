/* net loopback: a real uv loop with pgr_listener and pgr_conn on 127.0.0.1, ::1 and a Unix
 * socket; libuv clients in the same loop (and blocking clients in a child for EMFILE). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <uv.h>

#include "core/log.h"
#include "net/conn.h"
#include "net/listener.h"
#include "../harness.h"

/* ---- fixture ---------------------------------------------------------------------------- */

#define MAX_SCONNS 64
#define HIGH_WATER ((size_t)256 * 1024)

enum { MODE_ECHO_RESERVE, MODE_ECHO_WRITE, MODE_SINK, MODE_HOLD_HI, MODE_COUNT };

/* A server-side connection. Kept (not freed) until the test ends so on_close counts can be
 * checked; the memory would be freed in on_close in real code. */
typedef struct sconn {
    pgr_conn_t c;
    struct srv *srv;
    int closes;
    int reason;
    bool idle_nomem_checked;
} sconn_t;

typedef struct srv {
    uv_loop_t loop;
    uv_timer_t tick;
    pgr_config_t cfg;
    char *hosts[2];
    char dir[64];
    pgr_listener_t *l;
    int listener_closed;
    int mode;
    size_t in_limit;
    sconn_t conns[MAX_SCONNS];
    int n_accepted, n_closed;
    size_t peak_out_alloc, peak_in_alloc;
    int read_stops;
    bool small_sndbuf;
    size_t iter_bytes, max_iter_bytes, total_in; /* MODE_COUNT: bytes read per loop iteration */
    char last_peer[64];
} srv_t;

static srv_t *S;

static void
tick_cb(uv_timer_t *t)
{
    (void)t;
}

static void
sconn_track(sconn_t *sc)
{
    size_t out = pgr_iobuf_cap(&sc->c.out[0]) + pgr_iobuf_cap(&sc->c.out[1]);
    size_t in = pgr_iobuf_cap(&sc->c.in);

    if (out > sc->srv->peak_out_alloc)
        sc->srv->peak_out_alloc = out;
    if (in > sc->srv->peak_in_alloc)
        sc->srv->peak_in_alloc = in;
}

static void
on_read(pgr_conn_t *c, void *arg)
{
    sconn_t *sc = arg;
    size_t n = pgr_iobuf_len(&c->in);

    sconn_track(sc);
    switch (sc->srv->mode) {
    case MODE_ECHO_RESERVE: {
        uint8_t *p = pgr_conn_out_reserve(c, n);
        CHECK(p != NULL);
        if (p == NULL)
            return;
        memcpy(p, pgr_iobuf_data(&c->in), n);
        pgr_conn_out_commit(c, n);
        pgr_iobuf_consume(&c->in, n);
        sconn_track(sc);
        pgr_conn_flush(c);
        break;
    }
    case MODE_ECHO_WRITE:
        CHECK_INT(pgr_conn_write(c, pgr_iobuf_data(&c->in), n), 0);
        pgr_iobuf_consume(&c->in, n);
        sconn_track(sc);
        break;
    case MODE_SINK:
        return; /* consume nothing: input piles up to the cap */
    case MODE_HOLD_HI:
        pgr_iobuf_consume(&c->in, n);
        return;
    case MODE_COUNT:
        sc->srv->iter_bytes += n;
        sc->srv->total_in += n;
        if (sc->srv->iter_bytes > sc->srv->max_iter_bytes)
            sc->srv->max_iter_bytes = sc->srv->iter_bytes;
        pgr_iobuf_consume(&c->in, n);
        return;
    }
    if (pgr_conn_out_pending(c) > HIGH_WATER) {
        pgr_conn_read_stop(c);
        sc->srv->read_stops++;
    }
}

static void
on_drain(pgr_conn_t *c, void *arg)
{
    CHECK(pgr_conn_out_pending(c) == 0);
    pgr_conn_read_start(c);
}

static void
on_close(pgr_conn_t *c, void *arg, int reason)
{
    sconn_t *sc = arg;

    CHECK(c == &sc->c);
    sc->closes++;
    sc->reason = reason;
    sc->srv->n_closed++;
}

static const pgr_conn_cbs_t server_cbs = { on_read, on_drain, on_close };

static void
accept_cb(pgr_listener_t *l, uv_stream_t *server, void *arg)
{
    srv_t *s = arg;
    sconn_t *sc;

    CHECK(s->n_accepted < MAX_SCONNS);
    if (s->n_accepted >= MAX_SCONNS)
        abort();
    sc = &s->conns[s->n_accepted++];
    sc->srv = s;
    CHECK_INT(pgr_conn_accept(server, &sc->c, &server_cbs, sc), 0);
    if (s->in_limit)
        pgr_conn_set_limits(&sc->c, s->in_limit, 0, 0);
    snprintf(s->last_peer, sizeof(s->last_peer), "%s", pgr_conn_peer(&sc->c));
    if (s->small_sndbuf) {
        /* Small kernel buffers, so a slow reader backs up into the conn quickly. */
        int sz = 32 * 1024;
        uv_send_buffer_size(&sc->c.h.handle, &sz);
    }
    /* Lazy buffers: an accepted, silent connection owns no buffer memory. */
    CHECK(sc->c.in.mem == NULL && sc->c.out[0].mem == NULL && sc->c.out[1].mem == NULL);
    if (s->mode == MODE_HOLD_HI)
        CHECK_INT(pgr_conn_write(&sc->c, "hi", 2), 0);
}

static void
listener_closed_cb(pgr_listener_t *l, void *arg)
{
    ((srv_t *)arg)->listener_closed++;
}

#define RUN_UNTIL(cond, ms)                                                               \
    do {                                                                                  \
        uint64_t t0_ = uv_hrtime();                                                       \
        while (!(cond) && uv_hrtime() - t0_ < (uint64_t)(ms) * 1000000u)                  \
            uv_run(&S->loop, UV_RUN_ONCE);                                                \
    } while (0)

/* A fresh loop and config: hosts (NULL: none), port 0 unless given, unix dir if asked. */
static srv_t *
srv_new(const char *host, bool with_unix)
{
    srv_t *s = calloc(1, sizeof(*s));

    uv_loop_init(&s->loop);
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_start(&s->tick, tick_cb, 5, 5);
    if (host != NULL) {
        s->hosts[0] = (char *)host;
        s->cfg.listen.hosts = s->hosts;
        s->cfg.listen.n_hosts = 1;
    }
    if (with_unix) {
        snprintf(s->dir, sizeof(s->dir), "/tmp/pgr-net-XXXXXX");
        CHECK(mkdtemp(s->dir) != NULL);
        s->cfg.listen.unix_socket_dir = s->dir;
    }
    S = s;
    return s;
}

static void
srv_free(srv_t *s)
{
    for (int i = 0; i < s->n_accepted; i++)
        pgr_conn_close(&s->conns[i].c, PGR_ESHUTDOWN);
    if (s->l != NULL) {
        pgr_listener_close(s->l, listener_closed_cb);
        s->l = NULL;
    }
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* Every handle was closed by its owner: nothing may be left on the loop. */
    CHECK_INT(uv_loop_close(&s->loop), 0);
    for (int i = 0; i < s->n_accepted; i++)
        CHECK_INT(s->conns[i].closes, 1);
    if (s->dir[0])
        rmdir(s->dir);
    free(s);
    S = NULL;
}

/* ---- libuv clients ---------------------------------------------------------------------- */

typedef struct client {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_timer_t pause;
    uint8_t *send;
    size_t send_len;
    size_t recv_len, recv_since_pause, pause_every;
    bool recv_ok, connected, wrote, eof, closed, reading, no_read;
    int read_err;
    char rbuf[65536];
} client_t;

static uint8_t
pattern(size_t i)
{
    return (uint8_t)(i % 251 + (i >> 16));
}

static void
cli_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    client_t *c = pgr_container_of(h, client_t, h.handle);
    *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void cli_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void
cli_resume(uv_timer_t *t)
{
    client_t *c = pgr_container_of(t, client_t, pause);
    c->recv_since_pause = 0;
    uv_read_start(&c->h.stream, cli_alloc, cli_read);
}

static void
cli_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    client_t *c = pgr_container_of(st, client_t, h.stream);

    if (n < 0) {
        if (n == UV_EOF)
            c->eof = true;
        else
            c->read_err = (int)n;
        uv_read_stop(st);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        size_t at = c->recv_len + (size_t)i;
        if (c->send && at >= c->send_len) {
            c->recv_ok = false;
            break;
        }
        if ((uint8_t)b->base[i] != (c->send ? c->send[at] : pattern(at)))
            c->recv_ok = false;
    }
    c->recv_len += (size_t)n;
    c->recv_since_pause += (size_t)n;
    /* A slow reader: a pause every pause_every bytes makes the server's output back up. */
    if (c->pause_every && c->recv_since_pause >= c->pause_every) {
        uv_read_stop(st);
        uv_timer_start(&c->pause, cli_resume, 3, 0);
    }
}

static void
cli_write_cb(uv_write_t *w, int status)
{
    client_t *c = pgr_container_of(w, client_t, wreq);
    CHECK_INT(status, 0);
    c->wrote = true;
}

static void
cli_connect_cb(uv_connect_t *r, int status)
{
    client_t *c = pgr_container_of(r, client_t, creq);

    CHECK_INT(status, 0);
    if (status != 0)
        return;
    c->connected = true;
    if (c->pause_every) {
        int sz = 32 * 1024;
        uv_recv_buffer_size(&c->h.handle, &sz);
    }
    if (!c->no_read)
        uv_read_start(&c->h.stream, cli_alloc, cli_read);
    if (c->send_len) {
        uv_buf_t b = uv_buf_init((char *)c->send, (unsigned)c->send_len);
        CHECK_INT(uv_write(&c->wreq, &c->h.stream, &b, 1, cli_write_cb), 0);
    }
}

/* Connect to host:port (tcp) or path (unix); send `send_len` pattern bytes once connected. */
static client_t *
cli_new(const char *host, int port, const char *path, size_t send_len)
{
    client_t *c = calloc(1, sizeof(*c));
    struct sockaddr_storage ss;

    c->recv_ok = true;
    uv_timer_init(&S->loop, &c->pause);
    if (send_len) {
        c->send = malloc(send_len);
        for (size_t i = 0; i < send_len; i++)
            c->send[i] = pattern(i * 7 + 3);
        c->send_len = send_len;
    }
    if (path != NULL) {
        uv_pipe_init(&S->loop, &c->h.pipe, 0);
        uv_pipe_connect(&c->creq, &c->h.pipe, path, cli_connect_cb);
    } else {
        uv_tcp_init(&S->loop, &c->h.tcp);
        if (strchr(host, ':'))
            uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
        else
            uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
        CHECK_INT(uv_tcp_connect(&c->creq, &c->h.tcp, (struct sockaddr *)&ss, cli_connect_cb), 0);
    }
    return c;
}

static void
cli_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    c->closed = true;
}

static void
cli_close(client_t *c)
{
    c->h.handle.data = c;
    c->pause.data = c;
    uv_close(&c->h.handle, cli_closed);
    uv_close((uv_handle_t *)&c->pause, NULL);
    RUN_UNTIL(c->closed, 2000);
    free(c->send);
    free(c);
}

static int
start(srv_t *s)
{
    int rc = pgr_listener_start(&s->loop, &s->cfg, accept_cb, s, &s->l);
    CHECK_INT(rc, 0);
    return rc;
}

/* ---- tests ------------------------------------------------------------------------------ */

/* TCP and Unix listeners side by side: names, mode 0777, peers, a small echo on each, buffers
 * released once idle, the socket file removed on close. */
TEST(tcp_and_unix_echo)
{
    srv_t *s = srv_new("127.0.0.1", true);
    char path[128];
    struct stat st;
    client_t *t, *u;

    s->mode = MODE_ECHO_WRITE;
    if (start(s) != 0)
        goto out;
    CHECK(pgr_listener_port(s->l) > 0);
    snprintf(path, sizeof(path), "%s/.s.PGSQL.%d", s->dir, pgr_listener_port(s->l));
    CHECK_STR(pgr_listener_unix_path(s->l), path);
    CHECK_INT(stat(path, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_INT(st.st_mode & 0777, 0777);
    CHECK_INT(pgr_listener_stats(s->l).n_sockets, 2);
    /* What an idle client costs: the conn struct and no heap. */
    printf("# sizeof(pgr_conn_t) = %zu\n", sizeof(pgr_conn_t));
    CHECK(sizeof(pgr_conn_t) <= 1024);

    t = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 1000);
    RUN_UNTIL(t->recv_len == 1000, 3000);
    CHECK_INT(t->recv_len, 1000);
    CHECK(t->recv_ok);
    CHECK_INT(s->n_accepted, 1);
    CHECK(strncmp(s->last_peer, "127.0.0.1:", 10) == 0 && atoi(s->last_peer + 10) > 0);

    u = cli_new(NULL, 0, path, 5000);
    RUN_UNTIL(u->recv_len == 5000, 3000);
    CHECK_INT(u->recv_len, 5000);
    CHECK(u->recv_ok);
    CHECK_INT(s->n_accepted, 2);
    CHECK_STR(s->last_peer, "unix");
    CHECK_INT(pgr_listener_stats(s->l).accepted, 2);

    /* Idle again: no buffer memory held by either connection. */
    for (int i = 0; i < 2; i++) {
        pgr_conn_t *c = &s->conns[i].c;
        CHECK(c->in.mem == NULL && c->out[0].mem == NULL && c->out[1].mem == NULL);
        CHECK_INT(pgr_conn_out_pending(c), 0);
    }

    /* The client's EOF closes the server side with PGR_ECLOSED, once. */
    cli_close(t);
    RUN_UNTIL(s->n_closed == 1, 3000);
    CHECK_INT(s->conns[0].closes, 1);
    CHECK_INT(s->conns[0].reason, PGR_ECLOSED);
    cli_close(u);
    RUN_UNTIL(s->n_closed == 2, 3000);
    CHECK_INT(s->conns[1].reason, PGR_ECLOSED);

    pgr_listener_close(s->l, listener_closed_cb);
    pgr_listener_close(s->l, listener_closed_cb); /* idempotent before the callback */
    s->l = NULL;
    RUN_UNTIL(s->listener_closed, 2000);
    CHECK_INT(s->listener_closed, 1);
    CHECK(stat(path, &st) != 0 && errno == ENOENT);
out:
    srv_free(s);
}

/* 8 MiB echoed to a slow reader: the server stops reading above HIGH_WATER and resumes on
 * drain, so its output memory stays bounded whatever the volume. */
static void
echo_8mib(int mode, bool use_unix)
{
    const size_t total = (size_t)8 << 20;
    srv_t *s = srv_new("127.0.0.1", use_unix);
    client_t *c;

    s->mode = mode;
    s->small_sndbuf = true;
    if (start(s) != 0)
        goto out;
    c = cli_new("127.0.0.1", pgr_listener_port(s->l),
                use_unix ? pgr_listener_unix_path(s->l) : NULL, total);
    c->pause_every = 128 * 1024;
    RUN_UNTIL(c->recv_len >= total && c->wrote, 60000);
    CHECK_INT(c->recv_len, total);
    CHECK(c->recv_ok);
    CHECK(c->wrote);
    /* Backpressure engaged, and bounded the output: at most HIGH_WATER plus one read's worth
     * in each of the two output buffers, rounded up to the allocator's doubling. */
    CHECK(s->read_stops > 0);
    CHECK(s->peak_out_alloc <= (size_t)1 << 20);
    CHECK(s->peak_in_alloc <= 2 * PGR_CONN_READ_BUDGET);
    printf("# mode %d: read_stops %d, peak output alloc %zu, peak input alloc %zu\n", mode,
           s->read_stops, s->peak_out_alloc, s->peak_in_alloc);
    cli_close(c);
    RUN_UNTIL(s->n_closed == 1, 3000);
    CHECK_INT(s->n_closed, 1);
out:
    srv_free(s);
}

TEST(echo_8mib_reserve_tcp)
{
    echo_8mib(MODE_ECHO_RESERVE, false);
}

TEST(echo_8mib_write_unix)
{
    echo_8mib(MODE_ECHO_WRITE, true);
}

/* Closing with a write in flight: on_close once with the first reason, later calls ignored,
 * writes refused, the in-flight buffer released (ASan would see a leak or a bad free). */
TEST(close_during_pending_write)
{
    srv_t *s = srv_new("127.0.0.1", false);
    client_t *c;
    uint8_t *big;
    pgr_conn_t *sc;

    s->mode = MODE_SINK;
    if (start(s) != 0)
        goto out;
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 0);
    c->no_read = true;
    RUN_UNTIL(s->n_accepted == 1 && c->connected, 3000);
    CHECK_INT(s->n_accepted, 1);
    if (s->n_accepted != 1)
        goto out;
    sc = &s->conns[0].c;
    big = calloc(1, (size_t)16 << 20);
    CHECK_INT(pgr_conn_write(sc, big, (size_t)16 << 20), 0);
    free(big); /* the conn copied what the socket did not take */
    RUN_UNTIL(false, 50);
    CHECK(pgr_conn_out_pending(sc) > 0); /* the client reads nothing: it cannot all be sent */
    CHECK(sc->writing);
    pgr_conn_close(sc, PGR_ESHUTDOWN);
    pgr_conn_close(sc, PGR_EIO);
    pgr_conn_close_after_flush(sc, PGR_EPROTO);
    CHECK_INT(pgr_conn_write(sc, "x", 1), PGR_ECLOSED);
    CHECK(pgr_conn_out_reserve(sc, 1) == NULL);
    CHECK_INT(s->conns[0].closes, 0); /* never from inside the call */
    RUN_UNTIL(s->n_closed == 1, 3000);
    RUN_UNTIL(false, 20);
    CHECK_INT(s->conns[0].closes, 1);
    CHECK_INT(s->conns[0].reason, PGR_ESHUTDOWN);
    cli_close(c);
out:
    srv_free(s);
}

/* close_after_flush: everything queued reaches the peer, then the close, with its reason. */
TEST(close_after_flush_delivers)
{
    const size_t total = (size_t)3 << 20;
    srv_t *s = srv_new("127.0.0.1", false);
    client_t *c;
    uint8_t *data;
    pgr_conn_t *sc;

    s->mode = MODE_SINK;
    if (start(s) != 0)
        goto out;
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 0);
    c->pause_every = 512 * 1024;
    RUN_UNTIL(s->n_accepted == 1 && c->connected, 3000);
    if (s->n_accepted != 1)
        goto out;
    sc = &s->conns[0].c;
    data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = pattern(i);
    CHECK_INT(pgr_conn_write(sc, data, total / 2), 0);
    uint8_t *p = pgr_conn_out_reserve(sc, total - total / 2);
    CHECK(p != NULL);
    if (p != NULL) {
        memcpy(p, data + total / 2, total - total / 2);
        pgr_conn_out_commit(sc, total - total / 2);
    }
    free(data);
    pgr_conn_close_after_flush(sc, PGR_EPROTO);
    CHECK(pgr_conn_is_closing(sc));
    CHECK_INT(pgr_conn_write(sc, "late", 4), PGR_ECLOSED);
    RUN_UNTIL(c->eof || c->read_err, 20000);
    CHECK(c->eof);
    CHECK_INT(c->recv_len, total);
    CHECK(c->recv_ok);
    RUN_UNTIL(s->n_closed == 1, 3000);
    CHECK_INT(s->conns[0].closes, 1);
    CHECK_INT(s->conns[0].reason, PGR_EPROTO);
    cli_close(c);
out:
    srv_free(s);
}

/* A peer that sends more than the input cap without the owner consuming: closed, PGR_ELIMIT. */
TEST(input_cap_closes)
{
    srv_t *s = srv_new("127.0.0.1", false);
    client_t *c;

    s->mode = MODE_SINK;
    s->in_limit = 1000;
    if (start(s) != 0)
        goto out;
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 5000);
    RUN_UNTIL(s->n_closed == 1, 3000);
    CHECK_INT(s->n_closed, 1);
    CHECK_INT(s->conns[0].reason, PGR_ELIMIT);
    CHECK(s->peak_in_alloc <= 1000);
    RUN_UNTIL(c->eof || c->read_err, 3000);
    CHECK(c->eof || c->read_err);
    cli_close(c);
out:
    srv_free(s);
}

static void
iter_check_cb(uv_check_t *h)
{
    ((srv_t *)h->data)->iter_bytes = 0;
}

/* A fast sender gets at most PGR_CONN_READ_BUDGET bytes read per loop iteration (libuv alone
 * would read up to 32 x 64 KiB), and still all of its bytes arrive. */
TEST(read_budget_per_wakeup)
{
    const size_t total = (size_t)8 << 20;
    srv_t *s = srv_new("127.0.0.1", false);
    uv_check_t check;
    client_t *c;

    s->mode = MODE_COUNT;
    uv_check_init(&s->loop, &check);
    check.data = s;
    uv_check_start(&check, iter_check_cb);
    if (start(s) != 0)
        goto out;
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, total);
    RUN_UNTIL(s->total_in == total, 30000);
    CHECK_INT(s->total_in, total);
    CHECK(s->max_iter_bytes > 0);
    CHECK(s->max_iter_bytes <= PGR_CONN_READ_BUDGET);
    printf("# most bytes read in one iteration: %zu\n", s->max_iter_bytes);
    cli_close(c);
out:
    uv_close((uv_handle_t *)&check, NULL);
    srv_free(s);
}

/* pgr_conn_write over the output cap: refused whole (nothing sent), the conn stays usable. */
TEST(output_cap_refuses_whole_write)
{
    srv_t *s = srv_new("127.0.0.1", false);
    client_t *c;
    pgr_conn_t *sc;
    static uint8_t big[5000];

    s->mode = MODE_HOLD_HI;
    if (start(s) != 0)
        goto out;
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 0);
    RUN_UNTIL(c->recv_len == 2, 3000);
    if (s->n_accepted != 1)
        goto out;
    sc = &s->conns[0].c;
    pgr_conn_set_limits(sc, 0, 4000, 0);
    CHECK_INT(pgr_conn_write(sc, big, sizeof(big)), PGR_ELIMIT);
    CHECK(pgr_conn_out_reserve(sc, sizeof(big)) == NULL);
    CHECK(!pgr_conn_is_closing(sc));
    CHECK_INT(pgr_conn_write(sc, "ok", 2), 0);
    RUN_UNTIL(c->recv_len == 4, 3000);
    RUN_UNTIL(false, 50);
    CHECK_INT(c->recv_len, 4); /* "hi" + "ok": none of the refused bytes */
    cli_close(c);
out:
    srv_free(s);
}

/* Paused: a connecting client waits (kernel backlog); resumed: it is accepted. */
TEST(pause_resume)
{
    srv_t *s = srv_new("127.0.0.1", false);
    client_t *c;

    s->mode = MODE_HOLD_HI;
    if (start(s) != 0)
        goto out;
    pgr_listener_pause(s->l);
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 0);
    RUN_UNTIL(false, 150);
    CHECK(c->connected); /* the kernel completed the handshake */
    CHECK_INT(s->n_accepted, 0);
    CHECK_INT(c->recv_len, 0);
    pgr_listener_resume(s->l);
    CHECK_INT(s->n_accepted, 0); /* not from inside resume */
    RUN_UNTIL(c->recv_len == 2, 3000);
    CHECK_INT(s->n_accepted, 1);
    CHECK_INT(c->recv_len, 2);
    cli_close(c);
out:
    srv_free(s);
}

/* Closing a paused listener with a client waiting in it: the waiting socket is closed too
 * (the client sees the end), nothing is accepted, and the loop ends clean. */
TEST(close_while_paused)
{
    srv_t *s = srv_new("127.0.0.1", false);
    client_t *c;

    s->mode = MODE_HOLD_HI;
    if (start(s) != 0)
        goto out;
    pgr_listener_pause(s->l);
    c = cli_new("127.0.0.1", pgr_listener_port(s->l), NULL, 0);
    RUN_UNTIL(false, 100);
    CHECK(c->connected);
    pgr_listener_close(s->l, listener_closed_cb);
    s->l = NULL;
    RUN_UNTIL(s->listener_closed && (c->eof || c->read_err), 3000);
    CHECK_INT(s->listener_closed, 1);
    CHECK(c->eof || c->read_err);
    CHECK_INT(s->n_accepted, 0);
    cli_close(c);
out:
    srv_free(s);
}

/* Address in use, a bad address, a live / stale / non-socket Unix socket path, a path too
 * long: each refused with its code (and a log line naming the address), nothing left open. */
TEST(start_errors)
{
    srv_t *s = srv_new("127.0.0.1", true);
    pgr_config_t cfg;
    pgr_listener_t *l2 = (pgr_listener_t *)&cfg;
    char *bad[1] = { "not-an-address" };
    char *lo[1] = { "127.0.0.1" };
    char path[100], longdir[140];
    struct sockaddr_un sa;
    int fd;

    if (start(s) != 0)
        goto out;
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen.hosts = lo;
    cfg.listen.n_hosts = 1;
    cfg.listen.port = pgr_listener_port(s->l);
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), PGR_EBUSY);
    CHECK(l2 == NULL);

    cfg.listen.hosts = bad;
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), PGR_EINVAL);

    /* Unix socket of the running listener: someone answers, so it is not removed. */
    cfg.listen.n_hosts = 0;
    cfg.listen.unix_socket_dir = s->dir;
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), PGR_EBUSY);
    CHECK(access(pgr_listener_unix_path(s->l), F_OK) == 0);

    /* A stale socket file (bound, nobody listening) is replaced. */
    cfg.listen.port = 1; /* Unix-only: no TCP socket is opened on it */
    snprintf(path, sizeof(path), "%s/.s.PGSQL.1", s->dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    CHECK(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), 0);
    if (l2 != NULL) {
        CHECK_INT(pgr_listener_port(l2), -1);
        CHECK_INT(pgr_listener_stats(l2).n_sockets, 1);
        CHECK_STR(pgr_listener_unix_path(l2), path);
        pgr_listener_close(l2, NULL);
        l2 = NULL;
    }
    CHECK(access(path, F_OK) != 0);

    /* A regular file at the path is never removed. */
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), PGR_EEXIST);
    CHECK_INT(access(path, F_OK), 0);
    unlink(path);

    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[sizeof(longdir) - 1] = '\0';
    cfg.listen.unix_socket_dir = longdir;
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), PGR_EINVAL);

    /* Nothing to listen on at all. */
    cfg.listen.unix_socket_dir = NULL;
    CHECK_INT(pgr_listener_start(&s->loop, &cfg, accept_cb, s, &l2), PGR_EINVAL);
out:
    srv_free(s); /* checks that every failed start closed its handles */
}

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the directory's own fd */
}

static void
release_cb(uv_timer_t *t)
{
    srv_t *s = t->data;

    for (int i = 0; i < s->n_accepted; i++)
        if (!pgr_conn_is_closing(&s->conns[i].c))
            pgr_conn_close_after_flush(&s->conns[i].c, PGR_ESHUTDOWN);
}

/* Run out of descriptors while clients keep coming: the listener pauses (no busy loop, no
 * client dropped), the loop keeps running, and every client is served once fds are freed. */
TEST(emfile_backoff)
{
    enum { NCLIENTS = 30 };
    srv_t *s = srv_new("127.0.0.1", false);
    struct rlimit old, low;
    struct rusage ru0, ru1;
    uv_timer_t release;
    uint64_t t0, wall_us, cpu_us;
    int port, status = -1, nfds;
    pid_t pid;

    s->mode = MODE_HOLD_HI;
    if (start(s) != 0)
        goto out;
    port = pgr_listener_port(s->l);

    pid = fork();
    if (pid == 0) {
        /* Child: blocking clients; each must receive "hi". */
        int fds[NCLIENTS], ok = 0;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct timeval tv = { .tv_sec = 20 };
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        for (int i = 0; i < NCLIENTS; i++) {
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0)
                _exit(2);
        }
        for (int i = 0; i < NCLIENTS; i++) {
            char b[2];
            ok += recv(fds[i], b, 2, MSG_WAITALL) == 2 && memcmp(b, "hi", 2) == 0;
        }
        _exit(ok == NCLIENTS ? 0 : 1);
    }
    CHECK(pid > 0);
    if (pid < 0)
        goto out;

    /* Room for a handful of accepted connections at a time. */
    nfds = count_fds();
    CHECK(nfds > 0);
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)nfds + 6;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);

    uv_timer_init(&s->loop, &release);
    release.data = s;
    uv_timer_start(&release, release_cb, 250, 250);
    getrusage(RUSAGE_SELF, &ru0);
    t0 = uv_hrtime();
    RUN_UNTIL(s->n_accepted == NCLIENTS, 30000);
    RUN_UNTIL(false, 300); /* let the last "hi"s go out and the releases run */
    wall_us = (uv_hrtime() - t0) / 1000;
    getrusage(RUSAGE_SELF, &ru1);
    setrlimit(RLIMIT_NOFILE, &old);
    uv_timer_stop(&release);
    uv_close((uv_handle_t *)&release, NULL);

    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(s->n_accepted, NCLIENTS);
    CHECK(pgr_listener_stats(s->l).emfile_pauses >= 1);
    cpu_us = (uint64_t)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000 +
             (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
             (uint64_t)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000 +
             (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    printf("# emfile: %d accepted in %" PRIu64 " ms, cpu %" PRIu64 " ms, %" PRIu64 " pauses\n",
           s->n_accepted, wall_us / 1000, cpu_us / 1000, pgr_listener_stats(s->l).emfile_pauses);
    /* A busy loop would burn the whole wall time in CPU. */
    CHECK(cpu_us < wall_us / 2);
out:
    srv_free(s);
}

/* IPv6 loopback (run only when the host has ::1), and "localhost" meaning both families. */
TEST(ipv6_loopback)
{
    srv_t *s = srv_new("::1", false);
    client_t *c;

    s->mode = MODE_ECHO_WRITE;
    if (start(s) != 0)
        goto out;
    c = cli_new("::1", pgr_listener_port(s->l), NULL, 100);
    RUN_UNTIL(c->recv_len == 100, 3000);
    CHECK_INT(c->recv_len, 100);
    CHECK(c->recv_ok);
    CHECK(strncmp(s->last_peer, "[::1]:", 6) == 0);
    cli_close(c);
out:
    srv_free(s);

    s = srv_new("localhost", false);
    s->mode = MODE_ECHO_WRITE;
    if (start(s) == 0)
        CHECK_INT(pgr_listener_stats(s->l).n_sockets, 2);
    srv_free(s);
}

static bool
have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    pgr_log_setup(PGR_LOG_WARNING, 0, NULL);
    if (have_ipv6_loopback())
        return RUN(tcp_and_unix_echo, echo_8mib_reserve_tcp, echo_8mib_write_unix,
                   close_during_pending_write, close_after_flush_delivers, input_cap_closes,
                   read_budget_per_wakeup, output_cap_refuses_whole_write, pause_resume,
                   close_while_paused, start_errors, emfile_backoff, ipv6_loopback);
    printf("# ::1 is not available here: ipv6_loopback is not run\n");
    return RUN(tcp_and_unix_echo, echo_8mib_reserve_tcp, echo_8mib_write_unix,
               close_during_pending_write, close_after_flush_delivers, input_cap_closes,
               read_budget_per_wakeup, output_cap_refuses_whole_write, pause_resume,
               close_while_paused, start_errors, emfile_backoff);
}
