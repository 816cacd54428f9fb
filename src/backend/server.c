/* One server connection: libpq's async connect and query API under a uv_poll_t, the idle
 * watch, and the relay's raw byte I/O. Besides libpq this file includes <openssl/ssl.h>, only
 * to read and write through the SSL object libpq made (PQsslStruct), so TLS stays libpq's. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "backend/server.h"
#include "backend/cancel.h"
#include "backend/node.h"
#include "core/log.h"

static const char *const mode_names[] = {
#define PGR_SERVER_MODE_TEXT(name, text) text,
    PGR_SERVER_MODE_MAP(PGR_SERVER_MODE_TEXT)
#undef PGR_SERVER_MODE_TEXT
};

const char *
pgr_server_mode_name(pgr_server_mode_t m)
{
    return (unsigned)m < PGR_ARRAY_LEN(mode_names) ? mode_names[m] : "unknown";
}

/* libpq messages end with a newline; copy one without it. */
static void
copy_msg(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src && *src ? src : "unknown error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static const char *
node_name(const pgr_server_t *srv)
{
    return srv->node ? srv->node->cfg.id : "?";
}

/* ---- handle lifetime ---------------------------------------------------------------------- */

static void
maybe_free(pgr_server_t *srv)
{
    if (!srv->closing || srv->pending_closes > 0)
        return;
    if (srv->closed_cb)
        srv->closed_cb(srv, srv->closed_arg);
    pgr_server_drop_data(srv);
    free(srv);
}

static void
poll_closed(uv_handle_t *h)
{
    pgr_server_t *srv = h->data;
    free(h);
    srv->pending_closes--;
    maybe_free(srv);
}

static void
timer_closed(uv_handle_t *h)
{
    pgr_server_t *srv = pgr_container_of((uv_timer_t *)h, pgr_server_t, timer);
    srv->pending_closes--;
    maybe_free(srv);
}

static void
close_timer(pgr_server_t *srv)
{
    if (srv->timer_closed)
        return;
    srv->timer_closed = true;
    srv->pending_closes++;
    uv_close((uv_handle_t *)&srv->timer, timer_closed);
}

static void
drop_poll(pgr_server_t *srv)
{
    if (!srv->poll)
        return;
    srv->pending_closes++;
    uv_close((uv_handle_t *)srv->poll, poll_closed);
    srv->poll = NULL;
    srv->poll_fd = -1;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watch PQsocket for events (0: stop). A new socket (libpq may open another one while
 * connecting) gets a new uv_poll_t: the old one is closed first, since libuv allows one per fd. */
static int
arm(pgr_server_t *srv, int events)
{
    int fd = srv->conn ? PQsocket(srv->conn) : -1;
    if (fd < 0)
        return PGR_EIO;
    if (srv->poll && srv->poll_fd != fd)
        drop_poll(srv);
    if (!srv->poll) {
        if (events == 0)
            return 0;
        uv_poll_t *p = malloc(sizeof(*p));
        if (!p)
            return PGR_ENOMEM;
        if (uv_poll_init(srv->loop, p, fd) != 0) {
            free(p);
            return PGR_EIO;
        }
        p->data = srv;
        srv->poll = p;
        srv->poll_fd = fd;
        srv->poll_events = 0;
    }
    /* uv_poll_start stops the watch first (an epoll_ctl DEL, then an ADD at the next poll):
     * asking again for what is already watched must not cost that. */
    bool active = uv_is_active((uv_handle_t *)srv->poll);
    if ((events == srv->poll_events && active) || (events == 0 && !active))
        return 0;
    srv->poll_events = events;
    if (events == 0)
        return uv_poll_stop(srv->poll) == 0 ? 0 : PGR_EIO;
    return uv_poll_start(srv->poll, events, on_poll) == 0 ? 0 : PGR_EIO;
}

static void
report_io_error(pgr_server_t *srv)
{
    if (srv->pool && srv->node)
        pgr_node_report_io_error(srv->node);
}

/* ---- connecting --------------------------------------------------------------------------- */

static void
notice_quiet(void *arg, const char *message)
{
    pgr_server_t *srv = arg;
    char msg[512];
    copy_msg(msg, sizeof(msg), message);
    pgr_debug("server", "node %s: notice: %s", node_name(srv), msg);
}

/* Stop tracing and read BackendKeyData out of libpq's protocol trace ("B 12 BackendKeyData
 * <pid> <key>"), the only public way to the cancel key in libpq 15. The trace can hold
 * authentication messages, so the buffer is wiped before it is freed. */
static void
finish_trace(pgr_server_t *srv)
{
    if (!srv->trace)
        return;
    if (srv->conn)
        PQuntrace(srv->conn);
    fclose(srv->trace);
    srv->trace = NULL;
    if (srv->trace_buf) {
        const char *p = strstr(srv->trace_buf, "BackendKeyData");
        long pid, key;
        if (p && sscanf(p + strlen("BackendKeyData"), " %ld %ld", &pid, &key) == 2) {
            srv->be_pid = (uint32_t)pid;
            srv->be_key = (uint32_t)key;
            srv->have_key = true;
        }
        explicit_bzero(srv->trace_buf, srv->trace_len);
        free(srv->trace_buf);
        srv->trace_buf = NULL;
        srv->trace_len = 0;
    }
}

static void
connect_done(pgr_server_t *srv, int status, const char *msg)
{
    char buf[512];
    uv_timer_stop(&srv->timer);
    finish_trace(srv);
    copy_msg(buf, sizeof(buf), msg);
    if (status == 0) {
        PQsetnonblocking(srv->conn, 1);
        const char *addr = PQhostaddr(srv->conn);
        const char *host = PQhost(srv->conn);
        snprintf(srv->cancel_host, sizeof(srv->cancel_host), "%s",
                 addr && *addr ? addr : host ? host : "");
        const char *port = PQport(srv->conn);
        srv->cancel_port = port ? atoi(port) : 0;
        srv->mode = PGR_SRV_IDLE;
        (void)arm(srv, 0);
    } else {
        srv->mode = PGR_SRV_DEAD;
        (void)arm(srv, 0);
        report_io_error(srv);
    }
    pgr_server_connect_cb cb = srv->connect_cb;
    srv->connect_cb = NULL;
    cb(srv, status, status ? buf : NULL, srv->connect_arg);
}

static void
connect_step(pgr_server_t *srv)
{
    int rc;
    switch (PQconnectPoll(srv->conn)) {
    case PGRES_POLLING_READING:
        rc = arm(srv, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = arm(srv, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        connect_done(srv, 0, NULL);
        return;
    default:
        connect_done(srv, PGR_ECONNECT, PQerrorMessage(srv->conn));
        return;
    }
    if (rc != 0)
        connect_done(srv, PGR_ECONNECT, "lost the socket while connecting");
}

static void
connect_timeout(uv_timer_t *t)
{
    pgr_server_t *srv = pgr_container_of(t, pgr_server_t, timer);
    char msg[128];
    snprintf(msg, sizeof(msg), "connection to node %s timed out after %llu ms", node_name(srv),
             (unsigned long long)srv->connect_timeout_ms);
    connect_done(srv, PGR_ETIMEDOUT, msg);
}

int
pgr_server_start(uv_loop_t *loop, const char *const *keywords, const char *const *values,
                 int64_t connect_timeout_ms, pgr_server_connect_cb cb, void *arg,
                 pgr_server_t **out, char *err, size_t errlen)
{
    pgr_server_t *srv = NULL;

    *out = NULL;
    srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return PGR_ENOMEM;
    }
    pgr_list_init(&srv->link);
    srv->loop = loop;
    srv->poll_fd = -1;
    srv->mode = PGR_SRV_CONNECTING;
    srv->connect_cb = cb;
    srv->connect_arg = arg;
    srv->conn = PQconnectStartParams(keywords, values, 0);
    if (!srv->conn || PQstatus(srv->conn) == CONNECTION_BAD) {
        copy_msg(err, errlen, srv->conn ? PQerrorMessage(srv->conn) : "out of memory");
        goto fail;
    }
    PQsetNoticeProcessor(srv->conn, notice_quiet, srv);
    srv->trace = open_memstream(&srv->trace_buf, &srv->trace_len);
    if (srv->trace) {
        PQtrace(srv->conn, srv->trace);
        PQsetTraceFlags(srv->conn, PQTRACE_SUPPRESS_TIMESTAMPS);
    }
    uv_timer_init(loop, &srv->timer);
    if (arm(srv, UV_WRITABLE) != 0) {
        snprintf(err, errlen, "no socket to watch");
        srv->closing = true; /* free once the timer's close callback has run */
        finish_trace(srv);
        PQfinish(srv->conn);
        srv->conn = NULL;
        close_timer(srv);
        return PGR_ECONNECT;
    }
    if (connect_timeout_ms > 0) {
        srv->connect_timeout_ms = connect_timeout_ms;
        uv_timer_start(&srv->timer, connect_timeout, (uint64_t)connect_timeout_ms, 0);
    }
    *out = srv;
    return 0;

fail:
    if (srv->conn)
        PQfinish(srv->conn);
    free(srv);
    return PGR_ECONNECT;
}

/* ---- queries ------------------------------------------------------------------------------ */

void
pgr_qresult_clear(pgr_qresult_t *q)
{
    free(q->mem);
    memset(q, 0, sizeof(*q));
}

void
pgr_qresult_error(pgr_qresult_t *q, int status, const char *sqlstate, const char *fmt, ...)
{
    char raw[1024], buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    copy_msg(buf, sizeof(buf), raw);
    const char *nid = q->pub.node_id;
    int64_t dur = q->pub.duration_us;
    pgr_qresult_clear(q);
    q->pub.node_id = nid;
    q->pub.duration_us = dur;
    q->pub.status = status;
    q->pub.ok = false;
    snprintf(q->pub.sqlstate, sizeof(q->pub.sqlstate), "%s", sqlstate ? sqlstate : "XX000");
    q->mem = strdup(buf);
    q->pub.message = q->mem ? q->mem : "out of memory";
}

/* Copy a PGresult's rows (or its error) into one allocation. */
static void
qresult_from_pg(pgr_qresult_t *q, const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        pgr_qresult_error(q, PGR_EQUERY, state, "%s", msg ? msg : PQresultErrorMessage(r));
        return;
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY &&
        st != PGRES_SINGLE_TUPLE) {
        pgr_qresult_error(q, PGR_EQUERY, "0A000", "unsupported result: %s", PQresStatus(st));
        return;
    }
    int nf = PQnfields(r), nr = PQntuples(r);
    const char *tag = PQcmdStatus((PGresult *)r);
    size_t size = sizeof(char *) * ((size_t)nf + (size_t)nf * (size_t)nr) + strlen(tag) + 1;
    for (int f = 0; f < nf; f++)
        size += strlen(PQfname(r, f)) + 1;
    for (int i = 0; i < nr; i++)
        for (int f = 0; f < nf; f++)
            size += (size_t)PQgetlength(r, i, f) + 1;
    /*  mem: [field name ptrs nf][value ptrs nr*nf][strings: tag, names, values] */
    char **ptrs = malloc(size);
    if (!ptrs) {
        pgr_qresult_error(q, PGR_ENOMEM, "53200", "out of memory copying a result");
        return;
    }
    char *s = (char *)(ptrs + nf + (size_t)nf * nr);
    size_t n = strlen(tag) + 1;
    memcpy(s, tag, n);
    q->pub.command_tag = s;
    s += n;
    for (int f = 0; f < nf; f++) {
        n = strlen(PQfname(r, f)) + 1;
        memcpy(s, PQfname(r, f), n);
        ptrs[f] = s;
        s += n;
    }
    for (int i = 0; i < nr; i++) {
        for (int f = 0; f < nf; f++) {
            char **slot = &ptrs[nf + (size_t)i * nf + f];
            if (PQgetisnull(r, i, f)) {
                *slot = NULL;
                continue;
            }
            n = (size_t)PQgetlength(r, i, f);
            memcpy(s, PQgetvalue(r, i, f), n);
            s[n] = '\0';
            *slot = s;
            s += n + 1;
        }
    }
    q->mem = ptrs;
    q->pub.status = 0;
    q->pub.ok = true;
    q->pub.message = NULL;
    q->pub.sqlstate[0] = '\0';
    q->pub.n_fields = nf;
    q->pub.n_rows = nr;
    q->pub.field_names = (const char *const *)ptrs;
    q->pub.values = (const char *const *)(ptrs + nf);
}

static void
query_finish(pgr_server_t *srv, int status, const char *msg)
{
    pgr_qresult_t q;
    memset(&q, 0, sizeof(q));
    q.pub.duration_us = (int64_t)((uv_hrtime() - srv->query_start_ns) / 1000);
    if (status != 0) {
        PQclear(srv->keep);
        srv->keep = NULL;
        srv->mode = PGR_SRV_DEAD;
        (void)arm(srv, 0);
        if (srv->conn) { /* a lost connection: make it unusable for the pool */
            PQfinish(srv->conn);
            srv->conn = NULL;
        }
        report_io_error(srv);
        pgr_qresult_error(&q, status, "08006", "node %s: %s", node_name(srv), msg);
    } else {
        srv->mode = PGR_SRV_IDLE;
        (void)arm(srv, 0);
        if (srv->keep)
            qresult_from_pg(&q, srv->keep);
        else
            pgr_qresult_error(&q, PGR_EQUERY, "XX000", "node %s returned no result", node_name(srv));
        PQclear(srv->keep);
        srv->keep = NULL;
    }
    pgr_server_query_cb cb = srv->query_cb;
    srv->query_cb = NULL;
    cb(srv, &q, srv->query_arg); /* srv may be gone after this */
    pgr_qresult_clear(&q);
}

static void
query_step(pgr_server_t *srv, int status, int events)
{
    char msg[512];
    if (status < 0) {
        query_finish(srv, PGR_ECLOSED, uv_strerror(status));
        return;
    }
    if (srv->flushing && (events & UV_WRITABLE)) {
        int r = PQflush(srv->conn);
        if (r < 0) {
            copy_msg(msg, sizeof(msg), PQerrorMessage(srv->conn));
            query_finish(srv, PGR_ECLOSED, msg);
            return;
        }
        srv->flushing = r == 1;
    }
    if ((events & UV_READABLE) && !PQconsumeInput(srv->conn)) {
        copy_msg(msg, sizeof(msg), PQerrorMessage(srv->conn));
        query_finish(srv, PGR_ECLOSED, msg);
        return;
    }
    while (!PQisBusy(srv->conn)) {
        PGresult *r = PQgetResult(srv->conn);
        if (!r) {
            query_finish(srv, 0, NULL);
            return;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(r);
            query_finish(srv, PGR_EPROTO, "COPY is not supported by the library's query API");
            return;
        }
        bool keep_err = srv->keep && PQresultStatus(srv->keep) == PGRES_FATAL_ERROR;
        if (keep_err) {
            PQclear(r);
        } else {
            PQclear(srv->keep);
            srv->keep = r;
        }
    }
    if (arm(srv, UV_READABLE | (srv->flushing ? UV_WRITABLE : 0)) != 0)
        query_finish(srv, PGR_ECLOSED, "lost the socket");
}

int
pgr_server_query(pgr_server_t *srv, const char *sql, int n_params, const char *const *params,
                 pgr_server_query_cb cb, void *arg)
{
    if (!pgr_server_usable(srv))
        return PGR_ECLOSED;
    if (srv->mode != PGR_SRV_IDLE && srv->mode != PGR_SRV_LENT)
        return PGR_EBUSY;
    int ok = n_params > 0
                 ? PQsendQueryParams(srv->conn, sql, n_params, NULL, params, NULL, NULL, 0)
                 : PQsendQuery(srv->conn, sql);
    if (!ok)
        return PGR_EIO;
    int r = PQflush(srv->conn);
    if (r < 0)
        return PGR_EIO;
    srv->flushing = r == 1;
    srv->keep = NULL;
    srv->query_cb = cb;
    srv->query_arg = arg;
    srv->query_start_ns = uv_hrtime();
    srv->mode = PGR_SRV_QUERY;
    if (arm(srv, UV_READABLE | (srv->flushing ? UV_WRITABLE : 0)) != 0) {
        srv->mode = PGR_SRV_DEAD;
        return PGR_EIO;
    }
    return 0;
}

/* ---- idle, lent, dead --------------------------------------------------------------------- */

static void
idle_step(pgr_server_t *srv, int status)
{
    char msg[512];
    if (status >= 0 && PQconsumeInput(srv->conn) && PQstatus(srv->conn) == CONNECTION_OK) {
        PGnotify *n;
        while ((n = PQnotifies(srv->conn)) != NULL)
            PQfreemem(n);
        return;
    }
    copy_msg(msg, sizeof(msg), status < 0 ? uv_strerror(status) : PQerrorMessage(srv->conn));
    srv->mode = PGR_SRV_DEAD;
    (void)arm(srv, 0);
    PQfinish(srv->conn);
    srv->conn = NULL;
    report_io_error(srv);
    pgr_server_lost_cb cb = srv->lost_cb;
    srv->lost_cb = NULL;
    if (cb)
        cb(srv, msg, srv->lost_arg);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
    pgr_server_t *srv = h->data;
    if (srv->closing)
        return;
    switch (srv->mode) {
    case PGR_SRV_CONNECTING:
        connect_step(srv);
        break;
    case PGR_SRV_QUERY:
        query_step(srv, status, events);
        break;
    case PGR_SRV_IDLE:
        idle_step(srv, status);
        break;
    case PGR_SRV_LENT:
        if (srv->io_cb && !srv->io_paused)
            srv->io_cb(srv, status < 0 ? PGR_EIO : 0, events, srv->io_arg);
        else
            (void)arm(srv, 0); /* the lazy stop of pgr_server_watch / lend, made real */
        break;
    case PGR_SRV_DEAD:
        (void)arm(srv, 0);
        break;
    }
}

void
pgr_server_idle(pgr_server_t *srv, pgr_server_lost_cb cb, void *arg)
{
    srv->mode = PGR_SRV_IDLE;
    srv->io_cb = NULL;
    srv->lost_cb = cb;
    srv->lost_arg = arg;
    if (arm(srv, UV_READABLE) != 0) {
        srv->mode = PGR_SRV_DEAD; /* the owner sees !usable and closes it */
        PQfinish(srv->conn);
        srv->conn = NULL;
    }
}

void
pgr_server_lend(pgr_server_t *srv)
{
    srv->mode = PGR_SRV_LENT;
    srv->lost_cb = NULL;
    srv->io_cb = NULL;
    if (srv->abort_status && !srv->timer_closed) /* an earlier loan's grace, still running */
        uv_timer_stop(&srv->timer);
    srv->abort_status = 0;
    /* The idle watch stays armed: the borrower's first pgr_server_watch for reading then
     * costs no epoll_ctl (an event before it only stops the watch, see on_poll). */
}

void
pgr_server_kill(pgr_server_t *srv, int status)
{
    if (srv->mode == PGR_SRV_DEAD && !srv->conn)
        return;
    drop_poll(srv);
    if (srv->conn) {
        PQfinish(srv->conn);
        srv->conn = NULL;
    }
    srv->mode = PGR_SRV_DEAD;
    srv->dead_status = status;
    close_timer(srv);
    if (srv->io_cb)
        srv->io_cb(srv, status, 0, srv->io_arg);
}

/* The grace of a lent connection on a node marked unhealthy is over: its backend is sent a
 * cancel and the connection killed under its borrower, unless the borrower gave it back or
 * learned of its end meanwhile. */
static void
abort_grace_over(uv_timer_t *t)
{
    pgr_server_t *srv = pgr_container_of(t, pgr_server_t, timer);

    if (srv->closing || srv->mode != PGR_SRV_LENT)
        return;
    (void)pgr_server_cancel(srv, 2000, NULL, NULL);
    pgr_server_kill(srv, srv->abort_status);
}

/* Are bytes (or the end) waiting in the connection's socket right now? */
static bool
readable_now(const pgr_server_t *srv)
{
    struct pollfd p = { .fd = srv->conn ? PQsocket(srv->conn) : -1, .events = POLLIN };

    return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

bool
pgr_server_abort(pgr_server_t *srv, int status, const char *msg)
{
    if (srv->closing || (srv->mode != PGR_SRV_QUERY && srv->mode != PGR_SRV_LENT))
        return false;
    /* A lent connection ends PGR_SERVER_ABORT_GRACE_MS from now, not at once: what the node
     * sends as it goes (a crash's WARNING 57P02, an administrator's FATAL, the end of the
     * connection) often trails the health check that noticed, and the borrower reads it
     * meanwhile, so that its client sees the node's own words as a direct client does. What is
     * in the socket already is read now. */
    if (srv->mode == PGR_SRV_LENT && !srv->abort_status) {
        srv->abort_status = status;
        uv_timer_stop(&srv->timer);
        uv_timer_start(&srv->timer, abort_grace_over, PGR_SERVER_ABORT_GRACE_MS, 0);
        if (srv->io_cb && !srv->io_paused && readable_now(srv)) {
            srv->io_cb(srv, 0, UV_READABLE, srv->io_arg);
            return true; /* srv may be back in its pool: the caller looks again */
        }
        return false;
    }
    if (srv->mode == PGR_SRV_LENT)
        return false; /* its grace is running */
    /* A statement still running there would run on once the node answers again: it is
     * canceled then (the request waits in the node's listen queue; bounded here). */
    (void)pgr_server_cancel(srv, 2000, NULL, NULL);
    if (srv->mode == PGR_SRV_QUERY && srv->query_cb) {
        query_finish(srv, status, msg); /* srv may be gone after this */
        return true;
    }
    pgr_server_kill(srv, status);
    return true;
}

bool
pgr_server_usable(const pgr_server_t *srv)
{
    return srv->conn && srv->mode != PGR_SRV_DEAD && !srv->closing &&
           PQstatus(srv->conn) == CONNECTION_OK;
}

void
pgr_server_close(pgr_server_t *srv, pgr_server_closed_cb cb, void *arg)
{
    if (srv->closing)
        return;
    srv->closing = true;
    srv->closed_cb = cb;
    srv->closed_arg = arg;
    srv->connect_cb = NULL;
    srv->query_cb = NULL;
    srv->lost_cb = NULL;
    srv->io_cb = NULL;
    finish_trace(srv);
    PQclear(srv->keep);
    srv->keep = NULL;
    drop_poll(srv);
    if (srv->conn) {
        PQfinish(srv->conn);
        srv->conn = NULL;
    }
    srv->mode = PGR_SRV_DEAD;
    close_timer(srv);
    maybe_free(srv);
}

/* ---- the borrower's API (public) ---------------------------------------------------------- */

PGR_API int
pgr_server_watch(pgr_server_t *srv, bool want_read, bool want_write, pgr_server_io_cb cb,
                 void *arg)
{
    if (srv->mode == PGR_SRV_DEAD)
        return srv->dead_status ? srv->dead_status : PGR_ECLOSED;
    if (srv->mode != PGR_SRV_LENT)
        return PGR_EINVAL;
    if (!want_read && !want_write) {
        /* A lazy stop: no callback is delivered from now on, and the watch itself is stopped
         * only if an event comes (on_poll) — so the common "stop, give back to the pool, idle
         * watch for reading" and "lend, watch for reading" turn no epoll_ctl at all. cb stays
         * registered for errors (pgr_server_kill). */
        srv->io_cb = cb;
        srv->io_arg = arg;
        srv->io_paused = true;
        return 0;
    }
    srv->io_cb = cb;
    srv->io_arg = arg;
    srv->io_paused = false;
    return arm(srv, (want_read ? UV_READABLE : 0) | (want_write ? UV_WRITABLE : 0));
}

static SSL *
ssl_of(pgr_server_t *srv)
{
    return PQsslInUse(srv->conn) ? PQsslStruct(srv->conn, "OpenSSL") : NULL;
}

static ssize_t
io_failed(pgr_server_t *srv, ssize_t code, const char *what)
{
    pgr_debug("server", "node %s: %s failed: %s", node_name(srv), what, pgr_strerror((int)code));
    report_io_error(srv);
    return code;
}

PGR_API ssize_t
pgr_server_read(pgr_server_t *srv, void *buf, size_t len)
{
    if (!srv->conn || srv->mode != PGR_SRV_LENT)
        return PGR_ECLOSED;
    if (len > INT_MAX)
        len = INT_MAX;
    SSL *ssl = ssl_of(srv);
    if (ssl) {
        ERR_clear_error();
        int n = SSL_read(ssl, buf, (int)len);
        if (n > 0)
            return n;
        switch (SSL_get_error(ssl, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return 0;
        case SSL_ERROR_ZERO_RETURN:
            return io_failed(srv, PGR_ECLOSED, "TLS read");
        default:
            return io_failed(srv, PGR_EIO, "TLS read");
        }
    }
    ssize_t n = recv(PQsocket(srv->conn), buf, len, 0);
    if (n > 0)
        return n;
    if (n == 0)
        return io_failed(srv, PGR_ECLOSED, "read");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return io_failed(srv, PGR_EIO, "read");
}

PGR_API ssize_t
pgr_server_write(pgr_server_t *srv, const void *buf, size_t len)
{
    if (!srv->conn || srv->mode != PGR_SRV_LENT)
        return PGR_ECLOSED;
    if (len > INT_MAX)
        len = INT_MAX;
    SSL *ssl = ssl_of(srv);
    if (ssl) {
        ERR_clear_error();
        int n = SSL_write(ssl, buf, (int)len);
        if (n > 0)
            return n;
        switch (SSL_get_error(ssl, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return 0;
        default:
            return io_failed(srv, PGR_EIO, "TLS write");
        }
    }
    ssize_t n = send(PQsocket(srv->conn), buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return io_failed(srv, PGR_EIO, "write");
}

PGR_API size_t
pgr_server_pending(pgr_server_t *srv)
{
    if (!srv->conn)
        return 0;
    SSL *ssl = ssl_of(srv);
    return ssl ? (size_t)SSL_pending(ssl) : 0;
}

void
pgr_server_drop_data(pgr_server_t *srv)
{
    void *data = srv->data;
    void (*fn)(void *) = srv->data_free;
    srv->data = NULL;
    srv->data_free = NULL;
    if (data && fn)
        fn(data);
}

PGR_API void
pgr_server_set_data(pgr_server_t *srv, void *data, void (*free_cb)(void *data))
{
    if (srv->data != data)
        pgr_server_drop_data(srv);
    srv->data = data;
    srv->data_free = free_cb;
}

PGR_API void *
pgr_server_get_data(const pgr_server_t *srv)
{
    return srv->data;
}

PGR_API const char *
pgr_server_node_id(const pgr_server_t *srv)
{
    return srv->node ? srv->node->cfg.id : NULL;
}

PGR_API const char *
pgr_server_parameter(const pgr_server_t *srv, const char *name)
{
    return srv->conn ? PQparameterStatus(srv->conn, name) : NULL;
}

PGR_API int
pgr_server_backend_key(const pgr_server_t *srv, uint32_t *pid, uint32_t *key)
{
    if (!srv->have_key)
        return PGR_ENOENT;
    *pid = srv->be_pid;
    *key = srv->be_key;
    return 0;
}

PGR_API int
pgr_server_cancel(pgr_server_t *srv, int64_t timeout_ms, pgr_cancel_cb cb, void *arg)
{
    if (!srv->have_key || !srv->cancel_host[0] || !srv->cancels)
        return PGR_ENOENT;
    return pgr_cancel_send(srv->loop, srv->cancels, srv->cancel_host, srv->cancel_port,
                           srv->be_pid, srv->be_key, timeout_ms < 0 ? 5000 : timeout_ms, cb, arg);
}

/* ---- conninfo ----------------------------------------------------------------------------- */

static int
set_str(char **dst, const char *val)
{
    free(*dst);
    *dst = strdup(val);
    return *dst ? 0 : PGR_ENOMEM;
}

int
pgr_server_parse_conninfo(const char *conninfo, pgr_node_config_t *node, char *err, size_t errlen)
{
    char *perr = NULL;
    int rc = 0;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        char msg[512];
        copy_msg(msg, sizeof(msg), perr ? perr : "out of memory");
        snprintf(err, errlen, "invalid conninfo: %s", msg);
        PQfreemem(perr);
        return PGR_EINVAL;
    }
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
        if (!o->val)
            continue;
        const char *k = o->keyword;
        if (strcmp(k, "host") == 0) {
            rc = set_str(&node->host, o->val);
        } else if (strcmp(k, "port") == 0) {
            char *end;
            long p = strtol(o->val, &end, 10);
            if (*o->val == '\0' || *end != '\0' || p < 1 || p > 65535) {
                snprintf(err, errlen, "invalid conninfo: port must be 1-65535, got \"%s\"",
                         o->val);
                rc = PGR_EINVAL;
            }
            node->port = (int)p;
        } else if (strcmp(k, "dbname") == 0) {
            rc = set_str(&node->dbname, o->val);
        } else if (strcmp(k, "user") == 0) {
            rc = set_str(&node->user, o->val);
        } else if (strcmp(k, "password") == 0) {
            rc = set_str(&node->password, o->val);
        } else if (strcmp(k, "sslmode") == 0) {
            rc = set_str(&node->ssl.mode, o->val);
        } else if (strcmp(k, "sslrootcert") == 0) {
            rc = set_str(&node->ssl.ca, o->val);
        } else if (strcmp(k, "sslcert") == 0) {
            rc = set_str(&node->ssl.cert, o->val);
        } else if (strcmp(k, "sslkey") == 0) {
            rc = set_str(&node->ssl.key, o->val);
        } else {
            snprintf(err, errlen,
                     "invalid conninfo: key \"%s\" is not allowed (allowed: host, port, dbname, "
                     "user, password, sslmode, sslrootcert, sslcert, sslkey)", k);
            rc = PGR_EINVAL;
        }
    }
    if (rc == PGR_ENOMEM)
        snprintf(err, errlen, "out of memory");
    PQconninfoFree(opts);
    return rc;
}
