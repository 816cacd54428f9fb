/* The session side of a broadcast (see multi.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "fanout/broadcast.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "route/classify.h"
#include "session/consistent.h"
#include "session/link.h"
#include "session/multi.h"
#include "session/lastbcast.h"
#include "session/pgrvar.h"
#include "session/reply.h"

#define CLIENT_IN_HIGH (1024 * 1024) /* input beyond the running batch: stop reading above */

/* ---- callbacks from the fan-out ---------------------------------------------------------- */

static int
out_cb(void *arg, const uint8_t *p, size_t n)
{
    pgr_client_t *cl = arg;

    if (pgr_conn_write(&cl->conn, p, n) != 0) {
        /* A hole in the client's stream cannot be repaired: the connection ends (closed from
         * the loop, so the broadcast calling this is not freed under it). */
        pgr_conn_close(&cl->conn, PGR_ELIMIT);
        return PGR_ELIMIT;
    }
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
done_cb(void *arg, char status)
{
    pgr_client_t *cl = arg;

    pgr_lastbcast_keep(cl, cl->bcast);
    cl->bcast_wait[0] = '\0'; /* the batch's node connections have waited for it */
    free(cl->bcast_begin); /* every node connection of the broadcast has had it */
    cl->bcast_begin = NULL;
    cl->txn = status;
    if (status == 'I') {
        pgr_bcast_free(cl->bcast);
        cl->bcast = NULL;
        cl->bcast_aborted = false;
        pgr_client_set_state(cl, PGR_CLIENT_IDLE);
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
            pgr_client_input(cl);
        else
            pgr_multi_client_input(cl);
    }
}

/* ---- the batch ---------------------------------------------------------------------------- */

#define BATCH_BAD_FRAME (-2)

/* How many bytes at the front of the input make one batch: a Query, or everything up to and
 * including a Sync. 0 when incomplete; -1 (with *why) when it cannot be broadcast;
 * BATCH_BAD_FRAME when the input breaks the protocol. */
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
            return rc == PGR_FRAME_NEED_MORE ? 0 : BATCH_BAD_FRAME;
        off += f.len;
        switch (f.type) {
        case 'Q':
        case 'S':
            return (ssize_t)off;
        case 'P':
        case 'B':
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

/* Named prepared statements in a broadcast (session/stmts.h): the client's names are recorded
 * with its other statements and go to the nodes under their broadcast variant's name, prepared
 * with the merge plan's rewrite of the text. A batch that binds or describes a statement it did
 * not parse itself gets it prepared first on every node connection that lacks it (the fan-out's
 * preamble, its replies swallowed). */
static uint64_t
bcast_key(const pgr_client_t *cl, uint32_t seq)
{
    return pgr_stmt_key(cl->id, seq, PGR_STMT_BROADCAST);
}

static void
bcast_name(char *buf, size_t cap, const pgr_client_t *cl, uint32_t seq)
{
    pgr_stmt_key_name(buf, cap, bcast_key(cl, seq));
}

/* The plan of one statement's text: a read gets the merge plan (and maybe a rewritten text the
 * nodes run instead, caller frees); anything else is concatenated. In verify mode the nodes
 * run the text as written (the plan still tells whether it is ordered). */
static int
stmt_plan(pgr_client_t *cl, const char *sql, size_t len, pgr_merge_plan_t *plan, bool *read,
          int *cls, char **rewritten)
{
    const pgr_classification_t *c;
    int rc;

    *rewritten = NULL;
    *read = false;
    memset(plan, 0, sizeof(*plan));
    plan->limit = plan->offset = -1;
    if ((rc = pgr_classify(cl->rt->classifier, sql, len, &c)) != 0)
        return rc;
    *read = c->cls == PGR_CLASS_READ;
    if (cls)
        *cls = c->cls;
    if (!*read)
        return 0;
    if ((rc = pgr_classify_merge_plan(sql, len, plan, rewritten)) != 0)
        return rc;
    if (cl->bcast_verify) {
        free(*rewritten);
        *rewritten = NULL;
    }
    return 0;
}

/* A Parse of name with rest (query\0, int16 n, n x int32): the query as the nodes run it. */
static int
put_parse(pgr_client_t *cl, pgr_writer_t *w, const char *name, const uint8_t *rest,
          size_t rest_len)
{
    const char *query = (const char *)rest;
    size_t ql = strnlen(query, rest_len);
    pgr_merge_plan_t plan;
    bool read;
    char *rewritten;
    int rc;

    if (ql == rest_len)
        return PGR_EPROTO;
    if ((rc = stmt_plan(cl, query, ql, &plan, &read, NULL, &rewritten)) != 0)
        return rc;
    pgr_writer_begin(w, 'P');
    pgr_writer_put_cstr(w, name);
    pgr_writer_put_cstr(w, rewritten ? rewritten : query);
    pgr_writer_put_bytes(w, rest + ql + 1, rest_len - ql - 1);
    free(rewritten);
    return pgr_writer_finish(w);
}

/* Which merge plan goes with which Execute of an extended batch: the statements the batch
 * parses or binds, and the portals bound from them. The merge takes one plan, for the batch's
 * first result set; any later Execute of a statement that needs more than concatenation makes
 * the plan "unsupported" (rows concatenated, one NOTICE), never silently wrong. */
#define TRACK_MAX 8

typedef struct {
    struct { char name[64]; pgr_merge_plan_t plan; bool read; } stmts[TRACK_MAX];
    struct { char name[64]; int stmt; } portals[TRACK_MAX];
    int n_stmts, n_portals;
    int executes;
    bool overflow;
} track_t;

static bool
plan_needed(const pgr_merge_plan_t *p, bool read)
{
    return read && (p->unsupported || p->n_keys > 0 || p->aggregate || p->group || p->limit >= 0 ||
                    p->offset >= 0);
}

static int
track_stmt(track_t *t, const char *name, const pgr_merge_plan_t *plan, bool read)
{
    int i;

    for (i = 0; i < t->n_stmts && strcmp(t->stmts[i].name, name) != 0; i++)
        ;
    if (i == t->n_stmts) {
        if (t->n_stmts == TRACK_MAX || strlen(name) >= sizeof(t->stmts[0].name)) {
            t->overflow = true;
            return -1;
        }
        t->n_stmts++;
    }
    snprintf(t->stmts[i].name, sizeof(t->stmts[i].name), "%s", name);
    t->stmts[i].plan = *plan;
    t->stmts[i].read = read;
    return i;
}

static void
track_portal(track_t *t, const char *portal, int stmt)
{
    int i;

    for (i = 0; i < t->n_portals && strcmp(t->portals[i].name, portal) != 0; i++)
        ;
    if (i == t->n_portals) {
        if (t->n_portals == TRACK_MAX || strlen(portal) >= sizeof(t->portals[0].name)) {
            t->overflow = true;
            return;
        }
        t->n_portals++;
    }
    snprintf(t->portals[i].name, sizeof(t->portals[i].name), "%s", portal);
    t->portals[i].stmt = stmt;
}

static int
track_find_stmt(const track_t *t, const char *name)
{
    for (int i = 0; i < t->n_stmts; i++)
        if (strcmp(t->stmts[i].name, name) == 0)
            return i;
    return -1;
}

/* An Execute of portal: the first sets the batch's plan, a later one that needs a plan of
 * its own makes it unsupported. */
static void
track_execute(track_t *t, const char *portal, pgr_merge_plan_t *plan, bool *have_plan,
              bool *read)
{
    const pgr_merge_plan_t *p = NULL;
    bool r = false;

    for (int i = 0; i < t->n_portals; i++)
        if (strcmp(t->portals[i].name, portal) == 0 && t->portals[i].stmt >= 0) {
            p = &t->stmts[t->portals[i].stmt].plan;
            r = t->stmts[t->portals[i].stmt].read;
        }
    if (t->executes++ == 0) {
        if (p) {
            *plan = *p;
            *read = r;
            *have_plan = r;
        }
        return;
    }
    if ((p && plan_needed(p, r)) || (p == NULL && t->overflow)) {
        plan->unsupported = "several statements executed in one batch";
        *have_plan = true;
    }
}

/* The batch as the nodes get it (w): statements' texts rewritten by their merge plans, named
 * statements renamed (and recorded, a Parse; forgotten, a Close). *plan is the plan of the
 * batch's first result set — a Query's, or the statement behind the first Execute. */
static int
build_batch(pgr_client_t *cl, const uint8_t *batch, size_t len, pgr_writer_t *w,
            pgr_merge_plan_t *plan, bool *have_plan, bool *read)
{
    track_t t = { .n_stmts = 0 };
    size_t off = 0;
    pgr_frame_t f;
    char name[48];
    char *rewritten = NULL;
    int rc = 0;

    *have_plan = *read = false;
    memset(plan, 0, sizeof(*plan));
    plan->limit = plan->offset = -1;
    cl->bcast_need.n = cl->bcast_defs.n = 0;
    while (rc == 0 && off < len &&
           pgr_frame_next(batch + off, len - off, PGR_PHASE_FRONTEND, NULL, &f) == PGR_FRAME_OK) {
        off += f.len;
        free(rewritten);
        rewritten = NULL;
        switch (f.type) {
        case 'Q': {
            pgr_fe_query_t q;
            if (pgr_fe_query_decode(f.body, f.body_len, &q) != 0)
                goto copy;
            if ((rc = stmt_plan(cl, q.sql, q.len, plan, read, NULL, &rewritten)) != 0)
                break;
            *have_plan = *read;
            pgr_fe_write_query(w, rewritten ? rewritten : q.sql);
            continue;
        }
        case 'P': {
            pgr_fe_parse_t m;
            pgr_merge_plan_t p;
            bool r;
            int cls = 0;
            if (pgr_fe_parse_decode(f.body, f.body_len, &m) != 0)
                goto copy;
            if ((rc = stmt_plan(cl, m.query, strlen(m.query), &p, &r, &cls, &rewritten)) != 0)
                break;
            (void)track_stmt(&t, m.name, &p, r);
            if (m.name[0] != '\0') {
                size_t nl = strlen(m.name) + 1;
                pgr_stmt_t *sm = pgr_stmts_add(&cl->stmts, m.name, f.body + nl, f.body_len - nl);
                if (sm == NULL) {
                    rc = PGR_ELIMIT;
                    break;
                }
                sm->cls = cls;
                bcast_name(name, sizeof(name), cl, sm->seq);
                m.name = name;
                if ((rc = pgr_stmt_seqs_add(&cl->bcast_defs, sm->seq)) != 0)
                    break;
            }
            if (rewritten)
                m.query = rewritten;
            pgr_fe_write_parse_msg(w, &m);
            continue;
        }
        case 'B': {
            pgr_fe_bind_t m;
            pgr_stmt_t *sm;
            if (pgr_fe_bind_decode(f.body, f.body_len, &m) != 0)
                goto copy;
            int si = track_find_stmt(&t, m.statement);
            if (m.statement[0] == '\0' || (sm = pgr_stmts_find(&cl->stmts, m.statement)) == NULL ||
                sm->cls == PGR_STMT_LOCAL) {
                track_portal(&t, m.portal, si);
                goto copy;
            }
            if (si < 0) {
                /* Prepared in an earlier batch: its plan from its recorded text. */
                const char *q = (const char *)sm->rest;
                pgr_merge_plan_t p;
                bool r;
                char *unused = NULL;
                if ((rc = stmt_plan(cl, q, strnlen(q, sm->rest_len), &p, &r, NULL, &unused)) != 0)
                    break;
                free(unused);
                si = track_stmt(&t, m.statement, &p, r);
            }
            track_portal(&t, m.portal, si);
            if (!pgr_stmt_seqs_has(&cl->bcast_defs, sm->seq) && (rc = pgr_stmt_seqs_add(&cl->bcast_need, sm->seq)))
                break;
            bcast_name(name, sizeof(name), cl, sm->seq);
            m.statement = name;
            pgr_fe_write_bind_msg(w, &m);
            continue;
        }
        case 'E': {
            pgr_fe_execute_t m;
            if (pgr_fe_execute_decode(f.body, f.body_len, &m) != 0)
                goto copy;
            track_execute(&t, m.portal, plan, have_plan, read);
            if (!cl->bcast_verify || m.max_rows == 0)
                goto copy;
            /* Verify hashes the whole result: no node may stop at a row limit. */
            pgr_fe_write_execute(w, m.portal, 0);
            continue;
        }
        case 'D':
        case 'C': {
            pgr_fe_target_t m;
            pgr_stmt_t *sm;
            if ((f.type == 'D' ? pgr_fe_describe_decode(f.body, f.body_len, &m)
                               : pgr_fe_close_decode(f.body, f.body_len, &m)) != 0 ||
                m.kind != 'S' || m.name[0] == '\0' ||
                (sm = pgr_stmts_find(&cl->stmts, m.name)) == NULL || sm->cls == PGR_STMT_LOCAL)
                goto copy;
            bcast_name(name, sizeof(name), cl, sm->seq);
            if (f.type == 'D') {
                if (!pgr_stmt_seqs_has(&cl->bcast_defs, sm->seq) &&
                    (rc = pgr_stmt_seqs_add(&cl->bcast_need, sm->seq)) != 0)
                    break;
                pgr_fe_write_describe(w, 'S', name);
            } else {
                pgr_fe_write_close(w, 'S', name);
                pgr_stmts_remove(&cl->stmts, m.name);
            }
            continue;
        }
        default:
            break;
        }
        if (rc != 0)
            break;
    copy:
        pgr_writer_put_bytes(w, batch + off - f.len, f.len);
    }
    /* No Execute (a Parse / Describe batch): the error policy follows its first statement. */
    if (t.executes == 0 && t.n_stmts > 0)
        *read = t.stmts[0].read;
    free(rewritten);
    return rc ? rc : w->err;
}

/* ---- what a node connection needs first (the fan-out's preamble) ------------------------- */

static int
prepare_cb(void *arg, pgr_server_t *srv, bool fresh, pgr_writer_t *w, uint64_t **keys,
           int *n_units)
{
    pgr_client_t *cl = arg;
    pgr_srv_state_t *st = pgr_link_server_state(srv);
    uint64_t *k, evicted;
    char name[48];
    int n = 0, rc;

    *keys = NULL;
    *n_units = 0;
    if (st == NULL || (k = malloc((3 + cl->bcast_need.n) * sizeof(*k))) == NULL)
        return PGR_ENOMEM;
    /* Settings only on a connection new to this broadcast: inside its transaction a SET would
     * be undone by a rollback. */
    if (fresh && pgr_link_put_settings(cl, st, w))
        k[n++] = 0;
    /* A consistent read waits for the primary's position before its transaction begins (a
     * REPEATABLE READ snapshot is taken by the transaction's first query). */
    if (fresh && pgr_consistent_put_wait(cl, w))
        k[n++] = PGR_BCAST_UNIT_GATE;
    if (fresh && cl->bcast_begin) {
        pgr_writer_put_bytes(w, cl->bcast_begin, cl->bcast_begin_len);
        k[n++] = 0;
    }
    for (size_t i = 0; i < cl->bcast_need.n; i++) {
        uint32_t seq = cl->bcast_need.v[i];
        const pgr_stmt_t *sm = pgr_stmts_by_seq(&cl->stmts, seq);
        uint64_t key = bcast_key(cl, seq);
        if (sm == NULL || pgr_srv_state_has(st, key))
            continue;
        bcast_name(name, sizeof(name), cl, seq);
        if ((rc = put_parse(cl, w, name, sm->rest, sm->rest_len)) != 0) {
            free(k);
            return rc;
        }
        if (pgr_srv_state_add(st, key, &evicted)) {
            pgr_stmt_key_name(name, sizeof(name), evicted);
            pgr_fe_write_close(w, 'S', name);
        }
        pgr_fe_write_empty(w, 'S');
        k[n++] = key;
    }
    /* What the batch itself prepares is there after it (an eviction beyond the cap is left on
     * the connection, as the relay does). */
    for (size_t i = 0; i < cl->bcast_defs.n; i++)
        if (pgr_srv_state_add(st, bcast_key(cl, cl->bcast_defs.v[i]), &evicted))
            pgr_srv_state_forget(st, evicted);
    *keys = k;
    *n_units = n;
    return w->err;
}

static void
unit_failed_cb(void *arg, pgr_server_t *srv, uint64_t key)
{
    pgr_srv_state_t *st = pgr_server_get_data(srv);

    (void)arg;
    if (st && key)
        pgr_srv_state_forget(st, key);
}

static void
parameter_cb(void *arg, pgr_server_t *srv, const char *name, const char *value)
{
    pgr_client_t *cl = arg;
    pgr_srv_state_t *st = pgr_server_get_data(srv);
    int k = pgr_params_index(name);

    if (k < 0)
        return;
    if ((st && pgr_params_set(&st->params, k, value) != 0) ||
        pgr_params_set(&cl->want, k, value) != 0)
        pgr_warn("broadcast", "client %llu: out of memory tracking %s",
                 (unsigned long long)cl->id, name);
}

/* A ROLLBACK cannot be half-applied: a node that fails it (gone, its transaction with it)
 * is a warning, not the statement's failure. */
static bool
is_rollback(pgr_client_t *cl, const uint8_t *batch, size_t len)
{
    pgr_frame_t f;
    pgr_fe_query_t q;
    pgr_fe_parse_t m;
    const char *sql = NULL;
    const pgr_classification_t *c;

    if (pgr_frame_next(batch, len, PGR_PHASE_FRONTEND, NULL, &f) != PGR_FRAME_OK)
        return false;
    if (f.type == 'Q' && pgr_fe_query_decode(f.body, f.body_len, &q) == 0)
        sql = q.sql;
    else if (f.type == 'P' && pgr_fe_parse_decode(f.body, f.body_len, &m) == 0)
        sql = m.query;
    return sql && pgr_classify(cl->rt->classifier, sql, strlen(sql), &c) == 0 &&
           c->n_stmts == 1 && c->stmts[0].cls == PGR_CLASS_ROLLBACK;
}

static int
send_batch(pgr_client_t *cl, size_t len)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_merge_plan_t plan;
    bool have_plan, read;
    pgr_merge_policy_t policy;
    pgr_writer_t w;
    int rc;

    pgr_writer_init_grow(&w);
    if ((rc = build_batch(cl, pgr_iobuf_data(in), len, &w, &plan, &have_plan, &read)) != 0) {
        pgr_writer_free(&w);
        return rc;
    }
    if (cl->bcast_verify && read) {
        plan = (pgr_merge_plan_t){ .limit = -1, .offset = -1, .ordered = plan.ordered,
                                   .verify = true };
        have_plan = true;
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
        policy = read || is_rollback(cl, pgr_iobuf_data(in), len) ? PGR_MERGE_WARN
                                                                  : PGR_MERGE_FAIL;
        break;
    }
    rc = pgr_bcast_send(cl->bcast, w.buf, w.len, have_plan ? &plan : NULL, policy,
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
    pgr_health_t *h;
    const char *ids[PGR_CLUSTER_MAX_NODES];
    const char *down[PGR_CLUSTER_MAX_NODES];
    char primary[PGR_NODE_ID_MAX];
    int n = 0, healthy = 0;

    if (len == 0)
        return PGR_DISPATCH_WAIT;
    if (len < 0) {
        cl->bcast_wait[0] = '\0';
        pgr_reply_error(cl, "0A000", why ? why : "invalid message in a broadcast");
        return PGR_DISPATCH_ANSWERED;
    }
    /* A consistent read takes the primary's WAL position first; the input comes back here
     * once it is known (session/consistent.h). */
    if (pgr_consistent_needed(cl, route, primary, sizeof(primary))) {
        if (primary[0] == '\0') {
            pgr_reply_error(cl, "08006", "pgrouter.broadcast_consistency: no healthy primary "
                                           "to take the WAL position from");
            return PGR_DISPATCH_ANSWERED;
        }
        if (pgr_consistent_probe(cl, primary) != 0) {
            pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
            return PGR_DISPATCH_CLOSED;
        }
        return PGR_DISPATCH_ROUTE;
    }
    if ((h = calloc(PGR_CLUSTER_MAX_NODES, sizeof(*h))) == NULL) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return PGR_DISPATCH_CLOSED;
    }
    /* Every node of the role takes part; one that is not healthy is reported as failed (the
     * client is told it did not run there) rather than silently left out. */
    size_t nh = pgr_cluster_all_health(cl->rt->cluster, h, PGR_CLUSTER_MAX_NODES);
    for (size_t i = 0; i < nh && i < PGR_CLUSTER_MAX_NODES; i++) {
        if (h[i].state == PGR_NODE_REMOVED ||
            (route->role != PGR_ROLE_AUTO && h[i].role != route->role))
            continue;
        down[n] = h[i].state == PGR_NODE_HEALTHY ? NULL : pgr_node_state_name(h[i].state);
        healthy += h[i].state == PGR_NODE_HEALTHY;
        ids[n++] = h[i].node_id;
    }
    if (healthy == 0) {
        free(h);
        cl->bcast_wait[0] = '\0';
        pgr_reply_error(cl, "08006", "no healthy node to broadcast to");
        return PGR_DISPATCH_ANSWERED;
    }
    const pgr_user_config_t *u = pgr_config_find_user(cl->rt->cfg, cl->user);
    pgr_bcast_opts_t opts = {
        .user = cl->user,
        .database = cl->database,
        .password = u ? u->password : NULL,
        .timeout_ms = cl->rt->cfg->broadcast.timeout_ms,
        .client_high = PGR_CLIENT_OUT_HIGH,
        .merge_memory = (size_t)cl->rt->cfg->broadcast.merge_memory,
    };
    static const pgr_bcast_cbs_t cbs = { out_cb, pending_cb, done_cb, prepare_cb,
                                         unit_failed_cb, parameter_cb };
    int rc = pgr_bcast_new(cl->rt->cluster, ids, n, &opts, &cbs, cl, &cl->bcast);
    free(h); /* the broadcast has copied the ids */
    if (rc != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return PGR_DISPATCH_CLOSED;
    }
    for (int i = 0; i < n; i++)
        if (down[i])
            pgr_bcast_mark_down(cl->bcast, i, down[i]);
    pgr_client_set_state(cl, PGR_CLIENT_BROADCAST);
    /* A lone BEGIN answered by pgrouter opens the transaction on every node connection first
     * (a preamble unit); from here the broadcast holds the transaction. */
    if (cl->held_begin) {
        free(cl->bcast_begin);
        cl->bcast_begin = cl->held_msg;
        cl->bcast_begin_len = cl->held_len;
        cl->held_msg = NULL;
        cl->held_len = 0;
        cl->held_begin = false;
    }
    if (send_batch(cl, (size_t)len) != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory starting a broadcast");
        return PGR_DISPATCH_CLOSED;
    }
    /* The client is still read while the broadcast runs (its input waits in the buffer, up to
     * a mark), so a client that goes away is seen at once and its broadcast cancelled. */
    if (pgr_iobuf_len(&cl->conn.in) > CLIENT_IN_HIGH)
        pgr_conn_read_stop(&cl->conn);
    return PGR_DISPATCH_ROUTE;
}

/* An error answered here inside the broadcast's transaction: ErrorResponse, the client's
 * messages skipped up to its Query or Sync, ReadyForQuery 'E'; the nodes' transaction is then
 * aborted as far as the client is concerned (cl->bcast_aborted). */
static void
fail_in_transaction(pgr_client_t *cl, const char *sqlstate, const char *message)
{
    (void)pgr_reply_error_status(cl, sqlstate, message, 'E');
    cl->bcast_aborted = true;
    cl->txn = 'E';
}

/* The broadcast's transaction is aborted for the client: a ROLLBACK [TO SAVEPOINT] goes to the
 * nodes (and a savepoint rollback recovers it, as on a server), a COMMIT is sent as ROLLBACK
 * (PostgreSQL answers a COMMIT of a failed transaction with "ROLLBACK"), anything else gets
 * 25P02. Returns true when the input was answered here. */
static bool
aborted_input(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;
    pgr_fe_query_t q;
    pgr_fe_parse_t m;
    const char *sql = NULL;
    const pgr_classification_t *c;

    if (pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f) !=
        PGR_FRAME_OK)
        return false;
    if (f.type == 'Q' && pgr_fe_query_decode(f.body, f.body_len, &q) == 0)
        sql = q.sql;
    else if (f.type == 'P' && pgr_fe_parse_decode(f.body, f.body_len, &m) == 0)
        sql = m.query;
    if (sql && pgr_classify(cl->rt->classifier, sql, strlen(sql), &c) == 0 && c->n_stmts == 1) {
        if (c->stmts[0].cls == PGR_CLASS_ROLLBACK ||
            (c->stmts[0].cls == PGR_CLASS_SAVEPOINT && strncasecmp(sql + c->stmts[0].text_offset,
                                                                   "ROLLBACK", 8) == 0)) {
            cl->bcast_aborted = false;
            return false;
        }
        if (c->stmts[0].cls == PGR_CLASS_COMMIT && f.type == 'Q') {
            pgr_writer_t w;
            pgr_writer_init_grow(&w);
            pgr_fe_write_query(&w, "ROLLBACK");
            pgr_iobuf_consume(in, f.len);
            cl->bcast_aborted = false;
            int rc = w.err ? w.err
                           : pgr_bcast_send(cl->bcast, w.buf, w.len, NULL, PGR_MERGE_FAIL,
                                            false);
            pgr_writer_free(&w);
            if (rc != 0)
                pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory in a broadcast");
            return true;
        }
    }
    if (pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f) ==
            PGR_FRAME_OK && f.type != 'Q') {
        /* Extended protocol: the whole batch, up to its Sync, before answering. */
        const char *why = NULL;
        if (batch_len(cl, &why) == 0)
            return true;
    }
    fail_in_transaction(cl, "25P02",
                        "current transaction is aborted, commands ignored until end of "
                        "transaction block");
    return true;
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
    if (pgr_bcast_running(cl->bcast)) {
        /* The next batch waits for this one's end (done_cb takes it up). */
        if (pgr_iobuf_len(in) > CLIENT_IN_HIGH)
            pgr_conn_read_stop(&cl->conn);
        return;
    }
    /* Terminate inside a broadcast transaction: the connections are rolled back by closing. */
    int frc = pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f);
    if (frc == PGR_FRAME_OK && f.type == 'X') {
        pgr_client_close(cl, "client terminated");
        return;
    }
    /* pgrouter.* statements are answered here, inside the broadcast's transaction too. */
    while (frc == PGR_FRAME_OK && cl->state == PGR_CLIENT_BROADCAST &&
           strchr("QPBD", f.type) != NULL) {
        pgr_dispatch_t d = pgr_pgrvar_local(cl, &f);
        if (d == PGR_DISPATCH_WAIT || d == PGR_DISPATCH_CLOSED)
            return;
        if (d != PGR_DISPATCH_ANSWERED)
            break;
        frc = pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f);
    }
    if (cl->state != PGR_CLIENT_BROADCAST || pgr_iobuf_len(in) == 0)
        return;
    if (cl->bcast_aborted && aborted_input(cl))
        return;
    len = batch_len(cl, &why);
    if (len == 0)
        return;
    if (len == BATCH_BAD_FRAME) {
        pgr_client_bad_frame(cl, &f, "invalid message");
        return;
    }
    if (len < 0) {
        /* The nodes' transaction cannot take it: it is aborted for the client, as a server's
         * would be — only ROLLBACK (or COMMIT, which then rolls back) ends it. */
        fail_in_transaction(cl, "0A000", why ? why : "invalid message in a broadcast");
        return;
    }
    if (send_batch(cl, (size_t)len) != 0)
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory in a broadcast");
    else if (pgr_iobuf_len(in) > CLIENT_IN_HIGH)
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
    cl->bcast_aborted = false;
}

void
pgr_multi_free(pgr_client_t *cl)
{
    pgr_lastbcast_free(cl);
    pgr_stmt_seqs_free(&cl->bcast_need);
    pgr_stmt_seqs_free(&cl->bcast_defs);
    free(cl->bcast_begin);
    cl->bcast_begin = NULL;
}
