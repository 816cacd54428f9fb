/* The session side of a broadcast (see multi.h). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "fanout/broadcast.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "route/classify.h"
#include "session/dispatch.h"
#include "session/multi.h"
#include "session/relay.h"

#define CLIENT_OUT_HIGH (512 * 1024)

typedef struct pgr_multi_result {
    char node_id[PGR_NODE_ID_MAX];
    bool ok;
    uint64_t rows;
    char sqlstate[6];
    char message[200];
    int64_t latency_us;
} pgr_multi_result_t;

/* ---- callbacks from the fan-out ---------------------------------------------------------- */

static int
out_cb(void *arg, const uint8_t *p, size_t n)
{
    pgr_client_t *cl = arg;

    if (pgr_conn_write(&cl->conn, p, n) != 0)
        return PGR_ELIMIT;
    pgr_conn_flush(&cl->conn);
    return 0;
}

static size_t
pending_cb(void *arg)
{
    pgr_client_t *cl = arg;

    return pgr_conn_out_pending(&cl->conn);
}

static void
keep_results(pgr_client_t *cl)
{
    int n = pgr_bcast_n_nodes(cl->bcast);
    pgr_multi_result_t *r = calloc((size_t)n, sizeof(*r));

    if (r == NULL)
        return;
    for (int i = 0; i < n; i++) {
        pgr_bcast_result_t br;
        pgr_bcast_result(cl->bcast, i, &br);
        snprintf(r[i].node_id, sizeof(r[i].node_id), "%s", br.node_id);
        r[i].ok = br.ok;
        r[i].rows = br.rows;
        snprintf(r[i].sqlstate, sizeof(r[i].sqlstate), "%s", br.sqlstate ? br.sqlstate : "");
        snprintf(r[i].message, sizeof(r[i].message), "%s", br.message ? br.message : "");
        r[i].latency_us = br.latency_us;
    }
    pgr_multi_free_results(cl);
    cl->last_bcast = r;
    cl->n_last_bcast = n;
}

static void
done_cb(void *arg, char status)
{
    pgr_client_t *cl = arg;

    keep_results(cl);
    cl->txn = status;
    if (status == 'I') {
        pgr_bcast_free(cl->bcast);
        cl->bcast = NULL;
        cl->state = PGR_CLIENT_IDLE;
        if (cl->rt->shutting_down) {
            pgr_client_send_error(cl, "FATAL", "57P01", NULL,
                                  "terminating connection due to administrator command");
            return;
        }
    }
    pgr_conn_read_start(&cl->conn);
    pgr_conn_flush(&cl->conn);
    if (pgr_iobuf_len(&cl->conn.in) > 0) {
        if (cl->state == PGR_CLIENT_IDLE)
            pgr_relay_client_input(cl);
        else
            pgr_multi_client_input(cl);
    }
}

/* ---- the batch ---------------------------------------------------------------------------- */

/* How many bytes at the front of the input make one batch: a Query, or everything up to and
 * including a Sync. 0 when incomplete; -1 (with *why) when it cannot be broadcast. */
static ssize_t
batch_len(pgr_client_t *cl, const char **why)
{
    pgr_iobuf_t *in = &cl->conn.in;
    const uint8_t *p = pgr_iobuf_data(in);
    size_t len = pgr_iobuf_len(in), off = 0;
    pgr_frame_t f;

    while (off < len) {
        int rc = pgr_frame_next(p + off, len - off, PGR_PHASE_FRONTEND, NULL, &f);
        if (rc != PGR_FRAME_OK)
            return rc == PGR_FRAME_NEED_MORE ? 0 : -1;
        off += f.len;
        switch (f.type) {
        case 'Q':
        case 'S':
            return (ssize_t)off;
        case 'P': {
            pgr_fe_parse_t m;
            if (pgr_fe_parse_decode(f.body, f.body_len, &m) == 0 && m.name[0]) {
                *why = "named prepared statements are not supported in a broadcast yet";
                return -1;
            }
            break;
        }
        case 'B': {
            pgr_fe_bind_t m;
            if (pgr_fe_bind_decode(f.body, f.body_len, &m) == 0 && m.statement[0]) {
                *why = "named prepared statements are not supported in a broadcast yet";
                return -1;
            }
            break;
        }
        case 'D':
        case 'E':
        case 'C':
        case 'H':
            break;
        default:
            *why = "this message cannot be broadcast (COPY and function calls are not supported)";
            return -1;
        }
    }
    return 0;
}

/* The statement of a batch: the Query's text, or the first Parse's. */
static const char *
batch_sql(const uint8_t *batch, size_t len, pgr_frame_t *first)
{
    pgr_fe_query_t q;
    pgr_fe_parse_t m;

    if (pgr_frame_next(batch, len, PGR_PHASE_FRONTEND, NULL, first) != PGR_FRAME_OK)
        return NULL;
    if (first->type == 'Q' && pgr_fe_query_decode(first->body, first->body_len, &q) == 0)
        return q.sql;
    if (first->type == 'P' && pgr_fe_parse_decode(first->body, first->body_len, &m) == 0)
        return m.query;
    return NULL;
}

/* The batch with its statement replaced by sql: a new Query, or the first Parse rebuilt with the
 * rest of the batch behind it. */
static int
rewrite_batch(const uint8_t *batch, size_t len, const pgr_frame_t *first, const char *sql,
              pgr_writer_t *w)
{
    if (first->type == 'Q') {
        pgr_fe_write_query(w, sql);
    } else {
        pgr_fe_parse_t m;
        if (pgr_fe_parse_decode(first->body, first->body_len, &m) != 0)
            return PGR_EPROTO;
        m.query = sql;
        pgr_fe_write_parse_msg(w, &m);
    }
    pgr_writer_put_bytes(w, batch + first->len, len - first->len);
    return w->err;
}

static int
send_batch(pgr_client_t *cl, size_t len)
{
    pgr_iobuf_t *in = &cl->conn.in;
    const uint8_t *batch = pgr_iobuf_data(in);
    pgr_merge_plan_t plan;
    bool have_plan = false, read = false;
    pgr_merge_policy_t policy;
    pgr_frame_t first;
    char *rewritten = NULL;
    pgr_writer_t w;
    int rc;

    pgr_writer_init_grow(&w);
    const char *sql = batch_sql(batch, len, &first);
    if (sql) {
        const pgr_classification_t *c;
        if ((rc = pgr_classify(cl->rt->classifier, sql, strlen(sql), &c)) != 0)
            return rc;
        read = c->cls == PGR_CLASS_READ;
        if (read) {
            if ((rc = pgr_classify_merge_plan(sql, strlen(sql), &plan, &rewritten)) != 0)
                return rc;
            have_plan = true;
            if (rewritten && (rc = rewrite_batch(batch, len, &first, rewritten, &w)) != 0) {
                free(rewritten);
                pgr_writer_free(&w);
                return rc;
            }
            free(rewritten);
        }
    }
    switch (cl->rt->cfg->broadcast.on_node_error) {
    case PGR_ONERR_WARN:
        policy = PGR_MERGE_WARN;
        break;
    case PGR_ONERR_FAIL:
        policy = PGR_MERGE_FAIL;
        break;
    case PGR_ONERR_AUTO:
    default:
        policy = read ? PGR_MERGE_WARN : PGR_MERGE_FAIL;
        break;
    }
    rc = w.len ? pgr_bcast_send(cl->bcast, w.buf, w.len, have_plan ? &plan : NULL, policy,
                                cl->node_column)
               : pgr_bcast_send(cl->bcast, batch, len, have_plan ? &plan : NULL, policy,
                                cl->node_column);
    pgr_writer_free(&w);
    if (rc == 0) {
        pgr_iobuf_consume(in, len);
        cl->rt->stats.queries++;
    }
    return rc;
}

int
pgr_multi_start(pgr_client_t *cl, const pgr_route_t *route)
{
    const char *why = NULL;
    ssize_t len = batch_len(cl, &why);
    pgr_health_t h[64];
    const char *ids[64];
    const char *down[64];
    int n = 0, healthy = 0;

    if (len == 0)
        return PGR_DISPATCH_WAIT;
    if (len < 0) {
        pgr_dispatch_fail(cl, "0A000", why ? why : "invalid message in a broadcast");
        return PGR_DISPATCH_ANSWERED;
    }
    if (cl->held_begin) {
        pgr_dispatch_fail(cl, "0A000",
                          "a broadcast cannot start inside a transaction begun with a lone BEGIN; "
                          "broadcast the BEGIN with the statements in one query");
        return PGR_DISPATCH_ANSWERED;
    }
    /* Every node of the role takes part; one that is not healthy is reported as failed (the
     * client is told it did not run there) rather than silently left out. */
    size_t nh = pgr_cluster_all_health(cl->rt->cluster, h, 64);
    for (size_t i = 0; i < nh && i < 64; i++) {
        if (h[i].state == PGR_NODE_REMOVED ||
            (route->role != PGR_ROLE_AUTO && h[i].role != route->role))
            continue;
        down[n] = h[i].state == PGR_NODE_HEALTHY ? NULL : pgr_node_state_name(h[i].state);
        healthy += h[i].state == PGR_NODE_HEALTHY;
        ids[n++] = h[i].node_id;
    }
    if (healthy == 0) {
        pgr_dispatch_fail(cl, "08006", "no healthy node to broadcast to");
        return PGR_DISPATCH_ANSWERED;
    }
    const pgr_user_config_t *u = pgr_config_find_user(cl->rt->cfg, cl->user);
    pgr_bcast_opts_t opts = {
        .user = cl->user,
        .database = cl->database,
        .password = u ? u->password : NULL,
        .timeout_ms = cl->rt->cfg->broadcast.timeout_ms,
        .client_high = CLIENT_OUT_HIGH,
    };
    static const pgr_bcast_cbs_t cbs = { out_cb, pending_cb, done_cb };
    if (pgr_bcast_new(cl->rt->cluster, ids, n, &opts, &cbs, cl, &cl->bcast) != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return PGR_DISPATCH_CLOSED;
    }
    for (int i = 0; i < n; i++)
        if (down[i])
            pgr_bcast_mark_down(cl->bcast, i, down[i]);
    cl->state = PGR_CLIENT_BROADCAST;
    if (send_batch(cl, (size_t)len) != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory starting a broadcast");
        return PGR_DISPATCH_CLOSED;
    }
    pgr_conn_read_stop(&cl->conn);
    return PGR_DISPATCH_ROUTE;
}

void
pgr_multi_client_input(pgr_client_t *cl)
{
    const char *why = NULL;
    ssize_t len;
    pgr_frame_t f;
    pgr_iobuf_t *in = &cl->conn.in;

    if (cl->bcast == NULL || cl->state != PGR_CLIENT_BROADCAST)
        return;
    /* Terminate inside a broadcast transaction: the connections are rolled back by closing. */
    if (pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f) ==
            PGR_FRAME_OK && f.type == 'X') {
        pgr_client_close(cl, "client terminated");
        return;
    }
    len = batch_len(cl, &why);
    if (len == 0)
        return;
    if (len < 0) {
        pgr_dispatch_fail(cl, "0A000", why ? why : "invalid message in a broadcast");
        return;
    }
    if (send_batch(cl, (size_t)len) != 0)
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory in a broadcast");
    else
        pgr_conn_read_stop(&cl->conn);
}

void
pgr_multi_drained(pgr_client_t *cl)
{
    if (cl->bcast)
        pgr_bcast_resume(cl->bcast);
}

void
pgr_multi_cancel(pgr_client_t *cl)
{
    if (cl->bcast)
        pgr_bcast_cancel(cl->bcast);
}

void
pgr_multi_close(pgr_client_t *cl)
{
    pgr_bcast_free(cl->bcast);
    cl->bcast = NULL;
}

void
pgr_multi_free_results(pgr_client_t *cl)
{
    free(cl->last_bcast);
    cl->last_bcast = NULL;
    cl->n_last_bcast = 0;
}

void
pgr_multi_show_last(pgr_client_t *cl, pgr_writer_t *w)
{
    static const struct { const char *name; int32_t oid; } cols[] = {
        { "node", 25 }, { "ok", 16 }, { "rows", 20 }, { "sqlstate", 25 }, { "message", 25 },
        { "latency_ms", 701 },
    };
    pgr_be_field_t f[6];
    char rows[32], lat[32];

    for (int i = 0; i < 6; i++)
        f[i] = (pgr_be_field_t){ .name = cols[i].name, .type_oid = cols[i].oid, .typlen = -1,
                                 .typmod = -1 };
    pgr_be_write_rowdesc(w, 6, f);
    for (int i = 0; i < cl->n_last_bcast; i++) {
        const pgr_multi_result_t *r = &cl->last_bcast[i];
        snprintf(rows, sizeof(rows), "%llu", (unsigned long long)r->rows);
        snprintf(lat, sizeof(lat), "%.3f", (double)r->latency_us / 1000.0);
        pgr_value_t v[6] = {
            { (const uint8_t *)r->node_id, (int32_t)strlen(r->node_id) },
            { (const uint8_t *)(r->ok ? "t" : "f"), 1 },
            { (const uint8_t *)rows, (int32_t)strlen(rows) },
            { r->sqlstate[0] ? (const uint8_t *)r->sqlstate : NULL, r->sqlstate[0] ? 5 : -1 },
            { r->message[0] ? (const uint8_t *)r->message : NULL,
              r->message[0] ? (int32_t)strlen(r->message) : -1 },
            { (const uint8_t *)lat, (int32_t)strlen(lat) },
        };
        pgr_be_write_datarow(w, 6, v);
    }
    pgr_be_write_complete(w, "SHOW");
}
