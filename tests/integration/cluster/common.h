/* Shared bits of the cluster integration tests: TAP harness, loop, result capture, raw protocol
 * helpers for a lent server connection. Included once per test program. */
#ifndef PGR_TEST_CLUSTER_COMMON_H
#define PGR_TEST_CLUSTER_COMMON_H

/* Each test uses some of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <arpa/inet.h>
#include <string.h>

#include "../../unit/harness.h"
#include "../cluster_fixture.h"

static fx_cluster_t FX;
static uv_loop_t LOOP;
static pgr_cluster_t *C;
static fx_events_t EV;

/* One single-node result, copied out of the callback. */
typedef struct qres {
    bool done;
    int status;
    char sqlstate[6];
    char msg[512];
    char v0[256]; /* first value of the first row */
    int rows;
    double at;
} qres_t;

static void
q_cb(pgr_cluster_t *c, const pgr_result_t *r, void *arg)
{
    qres_t *q = arg;
    (void)c;
    q->done = true;
    q->at = fx_now();
    q->status = r->status;
    snprintf(q->sqlstate, sizeof(q->sqlstate), "%s", r->sqlstate);
    snprintf(q->msg, sizeof(q->msg), "%s", r->message ? r->message : "");
    const char *v = pgr_result_value(r, 0, 0);
    snprintf(q->v0, sizeof(q->v0), "%s", v ? v : "");
    q->rows = r->n_rows;
}

/* All results of a query_all, copied. */
typedef struct qall {
    bool done;
    size_t n;
    char ids[8][PGR_NODE_ID_MAX];
    qres_t r[8];
    double at;
} qall_t;

static void
qall_cb(pgr_cluster_t *c, const pgr_result_t *res, size_t n, void *arg)
{
    qall_t *q = arg;
    q->done = true;
    q->at = fx_now();
    q->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(q->ids[i], sizeof(q->ids[i]), "%s", res[i].node_id);
        q_cb(c, &res[i], &q->r[i]);
    }
}

static pgr_node_state_t
state_of(const char *id)
{
    pgr_health_t h;
    if (pgr_cluster_get_health(C, id, &h) != 0)
        return PGR_NODE_REMOVED;
    return h.state;
}

typedef struct { const char *id; pgr_node_state_t st; } want_state_t;

static bool
state_is(void *arg)
{
    want_state_t *w = arg;
    return state_of(w->id) == w->st;
}

static bool
wait_state(const char *id, pgr_node_state_t st, double timeout_s)
{
    want_state_t w = { id, st };
    return fx_run_until_pred(&LOOP, state_is, &w, timeout_s);
}

static bool
all_healthy(void *arg)
{
    pgr_health_t h[8];
    size_t n = pgr_cluster_all_health(C, h, 8);
    for (size_t i = 0; i < n; i++)
        if (h[i].state != PGR_NODE_HEALTHY)
            return false;
    return n == (size_t)(intptr_t)arg;
}

/* main's start: the nodes and the cluster C on LOOP, events into EV (see fx_begin). */
static void
start(fx_setup_t setup)
{
    fx_begin(&FX, &LOOP, &C, &EV, &setup);
}

/* main's end: the nodes stopped; returns the tests' exit status. */
static int
finish(int rc)
{
    fx_stop(&FX);
    return rc;
}

/* A program's last test: C shuts down (1 s drain), the loop closes clean, and nodes [0, n)
 * are left with no pgrouter connection. */
static void
check_shutdown_clean(int n)
{
    CHECK_INT(fx_shutdown(C, &LOOP, 1000), 0);
    for (int i = 0; i < n; i++)
        CHECK_INT(fx_wait_conns(&FX, i, "pgrouter", 0, 3.0), 0);
}

/* ---- raw protocol on a lent connection ---- */

static void
io_flag(pgr_server_t *srv, int status, int events, void *arg)
{
    (void)srv;
    (void)events;
    *(int *)arg = status < 0 ? status : 1;
}

static bool
wait_io(pgr_server_t *srv, bool rd, bool wr, double timeout_s)
{
    int flag = 0;
    if (pgr_server_watch(srv, rd, wr, io_flag, &flag) != 0)
        return false;
    double end = fx_now() + timeout_s;
    while (flag == 0 && fx_now() < end)
        fx_run_for(&LOOP, 0.005);
    (void)pgr_server_watch(srv, false, false, io_flag, &flag);
    return flag == 1;
}

/* Send a simple Query raw and read until ReadyForQuery: first value of the first DataRow into
 * v0, the SQLSTATE of an ErrorResponse into state; returns the ReadyForQuery status or -1. */
static int
raw_query(pgr_server_t *srv, const char *sql, char *v0, size_t v0len, char *state, double timeout_s)
{
    unsigned char out[1024], in[65536];
    size_t sl = strlen(sql) + 1, off = 0, len = 0;
    uint32_t l = htonl((uint32_t)(4 + sl));
    double end = fx_now() + timeout_s;
    out[0] = 'Q';
    memcpy(out + 1, &l, 4);
    memcpy(out + 5, sql, sl);
    size_t total = 5 + sl;
    if (v0)
        v0[0] = '\0';
    if (state)
        state[0] = '\0';
    while (off < total) {
        ssize_t n = pgr_server_write(srv, out + off, total - off);
        if (n < 0)
            return -1;
        if (n == 0 && !wait_io(srv, false, true, end - fx_now()))
            return -1;
        off += (size_t)n;
    }
    while (fx_now() < end) {
        ssize_t n = pgr_server_read(srv, in + len, sizeof(in) - len);
        if (n < 0)
            return -1;
        if (n == 0) {
            if (!wait_io(srv, true, false, end - fx_now()))
                return -1;
            continue;
        }
        len += (size_t)n;
        size_t p = 0;
        while (len - p >= 5) {
            uint32_t ml;
            memcpy(&ml, in + p + 1, 4);
            ml = ntohl(ml);
            if (len - p < 1 + ml)
                break;
            unsigned char t = in[p];
            const unsigned char *body = in + p + 5;
            if (t == 'D' && v0 && !v0[0] && ml >= 10) {
                int32_t vl;
                memcpy(&vl, body + 2, 4);
                vl = (int32_t)ntohl((uint32_t)vl);
                if (vl >= 0 && (size_t)vl < v0len) {
                    memcpy(v0, body + 6, (size_t)vl);
                    v0[vl] = '\0';
                }
            } else if (t == 'E' && state) {
                for (const unsigned char *f = body; f < body + ml - 4 && *f;) {
                    if (*f == 'C')
                        snprintf(state, 6, "%s", (const char *)f + 1);
                    f += 2 + strlen((const char *)f + 1);
                }
            } else if (t == 'Z') {
                return body[0];
            }
            p += 1 + ml;
        }
        memmove(in, in + p, len - p);
        len -= p;
    }
    return -1;
}

/* Acquire synchronously (runs the loop). */
typedef struct acq {
    bool done;
    int status;
    pgr_server_t *srv;
    char msg[512];
    double at;
} acq_t;

static void
acq_cb(pgr_acquire_t *req, int status, pgr_server_t *srv, const char *errmsg, void *arg)
{
    acq_t *a = arg;
    (void)req;
    a->done = true;
    a->at = fx_now();
    a->status = status;
    a->srv = srv;
    snprintf(a->msg, sizeof(a->msg), "%s", errmsg ? errmsg : "");
}

#endif
