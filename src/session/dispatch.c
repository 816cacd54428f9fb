/* The start of a transaction (see dispatch.h): the decision where its first statement goes,
 * and the held BEGIN. The pgrouter.* settings it answers itself are dispatch_pgrvar.c
 * (dispatch_int.h); the errors it answers a statement with are session/reply.c. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/writer.h"
#include "route/classify.h"
#include "session/carry.h"
#include "session/dispatch.h"
#include "session/pgrvar.h"
#include "session/link.h"
#include "session/login.h"
#include "session/multi.h"
#include "session/reply.h"

/* CommandComplete tag and ReadyForQuery. */
static void
reply_tag(pgr_client_t *cl, const char *tag, char status)
{
    uint8_t buf[128];
    pgr_writer_t w;

    pgr_writer_init_fixed(&w, buf, sizeof(buf));
    pgr_be_write_complete(&w, tag);
    pgr_be_write_ready(&w, (uint8_t)status);
    pgr_client_send_writer(cl, &w);
}

static int
classify(pgr_client_t *cl, const char *sql, size_t len, const pgr_classification_t **out)
{
    int rc = pgr_classify(cl->rt->classifier, sql, len, out);

    if (rc != 0)
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory classifying a statement");
    return rc;
}

/* ---- held BEGIN ------------------------------------------------------------------------- */

/* A lone BEGIN (one statement, no hint) that pgrouter answers itself and holds. */
static bool
is_lone_begin(const pgr_classification_t *c)
{
    return c->n_stmts == 1 && !c->parse_error && c->hint == PGR_HINT_NONE && !c->hint_error &&
           c->stmts[0].cls == PGR_CLASS_BEGIN;
}

/* A lone plain COMMIT / END / ROLLBACK / ABORT (not PREPARE TRANSACTION, not ... PREPARED):
 * of a held transaction, it is answered here. */
static bool
is_lone_end(const pgr_classification_t *c)
{
    return c->n_stmts == 1 && !c->parse_error && c->hint == PGR_HINT_NONE && !c->hint_error &&
           c->stmts[0].txn_plain &&
           (c->stmts[0].cls == PGR_CLASS_COMMIT || c->stmts[0].cls == PGR_CLASS_ROLLBACK);
}

static void
drop_held(pgr_client_t *cl)
{
    free(cl->held_msg);
    cl->held_msg = NULL;
    cl->held_len = 0;
    cl->held_begin = false;
    cl->held_failed = false;
}

/* End the held transaction with st (is_lone_end): nothing of it reached a server. Returns the
 * tag PostgreSQL gives (a failed transaction's COMMIT is a "ROLLBACK") and sets *status. AND
 * CHAIN begins the next transaction at once with the same characteristics: the BEGIN stays
 * held. */
static const char *
end_held(pgr_client_t *cl, const pgr_stmt_info_t *st, char *status)
{
    const char *tag = cl->held_failed ? "ROLLBACK" : st->tag;

    if (st->chain) {
        cl->held_failed = false;
        *status = 'T';
    } else {
        drop_held(cl);
        *status = 'I';
    }
    return tag;
}

/* The extended protocol's end of a held transaction: the batch of the one statement st, up to
 * its Sync, answered here. ROUTE when the batch is more than that. */
static pgr_dispatch_t
end_held_extended(pgr_client_t *cl, const pgr_stmt_info_t *st)
{
    size_t end = 0;
    pgr_dispatch_t d = pgr_pgrvar_extended_batch(cl, &end);
    pgr_writer_t result;
    char status;

    if (d != PGR_DISPATCH_ANSWERED)
        return d;
    const char *tag = end_held(cl, st, &status);
    pgr_writer_init_grow(&result);
    pgr_be_write_complete(&result, tag);
    pgr_pgrvar_answer_extended(cl, end, &result, status);
    pgr_writer_free(&result);
    return PGR_DISPATCH_ANSWERED;
}

/* The classification of the one statement an extended-protocol batch starting with f is
 * about, when pgrouter knows its text: an unnamed Parse's, or the client's named statement
 * that a Bind or a statement Describe names. NULL otherwise. */
static const pgr_classification_t *
batch_statement(pgr_client_t *cl, const pgr_frame_t *f)
{
    const char *name = NULL, *sql;
    size_t len;
    pgr_fe_parse_t p;
    pgr_fe_bind_t b;
    pgr_fe_target_t t;
    const pgr_stmt_t *sm;
    const pgr_classification_t *c;

    if (f->type == 'P' && pgr_fe_parse_decode(f->body, f->body_len, &p) == 0) {
        if (p.name[0] != '\0')
            return NULL; /* answered, it would have to be recorded */
        sql = p.query;
        len = strlen(sql);
    } else {
        if (f->type == 'B' && pgr_fe_bind_decode(f->body, f->body_len, &b) == 0)
            name = b.statement;
        else if (f->type == 'D' && pgr_fe_describe_decode(f->body, f->body_len, &t) == 0 &&
                 t.kind == 'S')
            name = t.name;
        if (name == NULL || name[0] == '\0' || (sm = pgr_stmts_find(&cl->stmts, name)) == NULL)
            return NULL;
        sql = (const char *)sm->rest;
        len = strnlen(sql, sm->rest_len);
    }
    return pgr_classify(cl->rt->classifier, sql, len, &c) == 0 ? c : NULL;
}

#define ABORTED_MSG \
    "current transaction is aborted, commands ignored until end of transaction block"

/* A statement in a held transaction that failed here: its ROLLBACK (or COMMIT) ends it, an
 * empty query is answered, anything else gets 25P02 as on a server. A batch that begins
 * with the ROLLBACK and goes on goes to a server with the transaction dropped (nothing of it
 * is on any server). */
static pgr_dispatch_t
held_failed_input(pgr_client_t *cl, const pgr_frame_t *f, const pgr_classification_t *c)
{
    if (f->type == 'Q' && c && c->n_stmts == 0 && !c->parse_error) {
        uint8_t buf[16];
        pgr_writer_t w;
        pgr_writer_init_fixed(&w, buf, sizeof(buf));
        pgr_fe_write_empty(&w, 'I');
        pgr_be_write_ready(&w, 'E');
        pgr_iobuf_consume(&cl->conn.in, f->len);
        pgr_client_send_writer(cl, &w);
        return PGR_DISPATCH_ANSWERED;
    }
    if (c && is_lone_end(c)) {
        if (f->type == 'Q') {
            char status;
            const char *tag = end_held(cl, &c->stmts[0], &status);
            pgr_iobuf_consume(&cl->conn.in, f->len);
            reply_tag(cl, tag, status);
            return PGR_DISPATCH_ANSWERED;
        }
        pgr_dispatch_t d = end_held_extended(cl, &c->stmts[0]);
        if (d != PGR_DISPATCH_ROUTE)
            return d;
    }
    if (c && (is_lone_end(c) || (c->n_stmts > 1 && c->stmts[0].txn_plain &&
                                 c->stmts[0].cls != PGR_CLASS_BEGIN))) {
        drop_held(cl);
        return PGR_DISPATCH_ROUTE;
    }
    (void)pgr_reply_error_status(cl, "25P02", ABORTED_MSG, 'E');
    return PGR_DISPATCH_ANSWERED;
}

/* The extended protocol's BEGIN (an unnamed Parse ... Sync): held as the simple Query of its
 * text, answered as a server would. Returns ROUTE when the batch is more than that. */
static pgr_dispatch_t
hold_begin_extended(pgr_client_t *cl, const char *sql, const pgr_stmt_info_t *st)
{
    size_t end = 0;
    pgr_dispatch_t d = pgr_pgrvar_extended_batch(cl, &end);
    pgr_writer_t q, result;

    if (d != PGR_DISPATCH_ANSWERED)
        return d;
    pgr_writer_init_grow(&q);
    pgr_fe_write_query(&q, sql);
    if (q.err) {
        pgr_writer_free(&q);
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return PGR_DISPATCH_CLOSED;
    }
    free(cl->held_msg);
    cl->held_msg = q.buf; /* taken from the writer */
    cl->held_len = q.len;
    cl->held_begin = true;
    cl->held_failed = false;
    cl->held_read_only = st->read_only_txn;
    pgr_writer_init_grow(&result);
    pgr_be_write_complete(&result, st->tag);
    pgr_pgrvar_answer_extended(cl, end, &result, 'T');
    pgr_writer_free(&result);
    return PGR_DISPATCH_ANSWERED;
}

static int
hold_begin(pgr_client_t *cl, const pgr_frame_t *f, const pgr_stmt_info_t *st)
{
    uint8_t *copy = malloc(f->len);

    if (copy == NULL)
        return PGR_ENOMEM;
    memcpy(copy, pgr_iobuf_data(&cl->conn.in), f->len);
    free(cl->held_msg);
    cl->held_msg = copy;
    cl->held_len = f->len;
    cl->held_begin = true;
    cl->held_failed = false;
    cl->held_read_only = st->read_only_txn;
    /* The tag is the statement's own: "BEGIN" or "START TRANSACTION". */
    const char *tag = st->tag;
    pgr_iobuf_consume(&cl->conn.in, f->len);
    reply_tag(cl, tag, 'T');
    return 0;
}

/* ---- the decision ------------------------------------------------------------------------ */

static pgr_dispatch_t
route(pgr_client_t *cl, const pgr_classification_t *c, pgr_stmt_class_t cls)
{
    bool read_only = cl->held_begin && cl->held_read_only;
    char why[512];

    /* An explicit transaction may write later, whatever its first statement is: it goes to
     * the primary unless it was begun READ ONLY (or its first statement makes it so), so a
     * replica never answers 25006 "cannot execute ... in a read-only transaction". */
    if (cl->held_begin && c && c->n_stmts == 1 && c->stmts[0].read_only_txn)
        read_only = true;
    if (cl->held_begin && !read_only)
        cls = PGR_CLASS_WRITE;
    pgr_route_req_t req = {
        .cls = cls,
        .read_only_txn = read_only,
        .hint = c ? c->hint : PGR_HINT_NONE,
        .hint_node = c ? c->hint_node : NULL,
        .session = cl->route,
        .session_node = cl->route_node,
        .min_lsn = cl->rt->cfg->routing.read_your_writes == PGR_RYW_SESSION ? cl->ryw_lsn : 0,
        .broadcast_reads = cl->bcast_verify,
    };

    if (c && c->hint_error) {
        pgr_reply_error(cl, "42601", c->hint_error_msg);
        return PGR_DISPATCH_ANSWERED;
    }
    pgr_router_route(cl->rt->router, &req, &cl->last_route);
    if (cl->last_route.kind != PGR_ROUTE_BROADCAST)
        cl->bcast_wait[0] = '\0'; /* a consistent read's position is for its broadcast only */
    pgr_debug("route", "client %llu: %s: %s", (unsigned long long)cl->id,
              pgr_route_kind_name(cl->last_route.kind),
              pgr_route_reason(&cl->last_route, why, sizeof(why)));
    switch (cl->last_route.kind) {
    case PGR_ROUTE_NODE:
        snprintf(cl->node_id_buf, sizeof(cl->node_id_buf), "%s", cl->last_route.node_id);
        cl->node_id = cl->node_id_buf;
        cl->txn_read = cl->last_route.read;
        return PGR_DISPATCH_ROUTE;
    case PGR_ROUTE_BROADCAST:
        return (pgr_dispatch_t)pgr_multi_start(cl, &cl->last_route);
    case PGR_ROUTE_ERROR:
    default:
        /* A node that could take it is still connecting: wait for its first health result. */
        if (cl->last_route.pending && pgr_login_await(cl))
            return PGR_DISPATCH_WAIT;
        pgr_reply_error(cl, cl->last_route.sqlstate, cl->last_route.reason);
        return PGR_DISPATCH_ANSWERED;
    }
}

/* A pipeline this long with no Sync yet goes to the primary rather than be looked at further. */
#define BATCH_LOOK_MAX (1024 * 1024)

static bool
writes(pgr_stmt_class_t k)
{
    return k == PGR_CLASS_WRITE || k == PGR_CLASS_DDL || k == PGR_CLASS_UTILITY;
}

/* The class of the extended-protocol batch at the front of the input, up to its Sync: every
 * statement a Parse or Bind names counts, by classify.h's rule for a string of several (any
 * write, or a mix, is a WRITE), so that a write behind a read never reaches a replica, which
 * would refuse it with 25006. *cls comes in as the first statement's class. Returns
 * PGR_DISPATCH_WAIT until the Sync is in, ROUTE with *cls decided. A Flush ends the look
 * early: the client wants replies to what came before it. */
static pgr_dispatch_t
batch_class(pgr_client_t *cl, pgr_stmt_class_t *cls)
{
    pgr_iobuf_t *in = &cl->conn.in;
    const uint8_t *p = pgr_iobuf_data(in);
    size_t len = pgr_iobuf_len(in), off = 0;
    pgr_stmt_class_t first = *cls, unnamed = cl->unnamed_cls;
    bool mixed = false;
    pgr_frame_t f;

    if (!cl->rewrite)
        return PGR_DISPATCH_ROUTE;
    for (;;) {
        int rc = pgr_frame_next(p + off, len - off, PGR_PHASE_FRONTEND, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE && len < BATCH_LOOK_MAX)
            return PGR_DISPATCH_WAIT;
        if (rc == PGR_FRAME_NEED_MORE)
            mixed = true;
        if (rc != PGR_FRAME_OK || f.type == 'S' || f.type == 'H' || f.type == 'Q')
            break;
        off += f.len;
        const char *sql = NULL, *name = NULL;
        size_t sql_len = 0;
        bool is_unnamed = false;
        pgr_fe_parse_t pm;
        pgr_fe_bind_t bm;
        const pgr_stmt_t *sm;
        if (f.type == 'P' && pgr_fe_parse_decode(f.body, f.body_len, &pm) == 0) {
            sql = pm.query;
            sql_len = strlen(sql);
            is_unnamed = pm.name[0] == '\0';
        } else if (f.type == 'B' && pgr_fe_bind_decode(f.body, f.body_len, &bm) == 0) {
            name = bm.statement;
        } else {
            continue; /* Describe, Execute, Close: about what a Parse or Bind names */
        }
        pgr_stmt_class_t k = PGR_CLASS_WRITE;
        if (name && name[0] == '\0') {
            k = unnamed;
        } else if (name && (sm = pgr_stmts_find(&cl->stmts, name)) != NULL) {
            sql = (const char *)sm->rest;
            sql_len = strnlen(sql, sm->rest_len);
        }
        const pgr_classification_t *c;
        if (sql)
            k = pgr_classify(cl->rt->classifier, sql, sql_len, &c) == 0 ? c->cls
                                                                        : PGR_CLASS_WRITE;
        if (is_unnamed)
            unnamed = k;
        mixed |= writes(k) || k != first;
    }
    if (mixed && !writes(*cls))
        *cls = PGR_CLASS_WRITE;
    return PGR_DISPATCH_ROUTE;
}

/* Route the extended-protocol batch at the front of the input, whose first statement is sql
 * (NULL when unknown: then cls alone), as a whole (batch_class). */
static pgr_dispatch_t
route_batch(pgr_client_t *cl, const char *sql, size_t len, pgr_stmt_class_t cls)
{
    const pgr_classification_t *c = NULL;
    pgr_dispatch_t d = batch_class(cl, &cls);

    if (d != PGR_DISPATCH_ROUTE)
        return d;
    /* Again: looking at the other statements may have moved the first one's entry. */
    if (sql && classify(cl, sql, len, &c) != 0)
        return PGR_DISPATCH_CLOSED;
    return route(cl, c, cls);
}

static pgr_dispatch_t
begin_query(pgr_client_t *cl, const pgr_frame_t *f)
{
    pgr_fe_query_t q;
    const pgr_classification_t *c;

    if (pgr_fe_query_decode(f->body, f->body_len, &q) != 0)
        return route(cl, NULL, PGR_CLASS_WRITE); /* the server answers a malformed query */
    if (classify(cl, q.sql, q.len, &c) != 0)
        return PGR_DISPATCH_CLOSED;
    if (cl->held_failed) {
        pgr_dispatch_t d = held_failed_input(cl, f, c);
        if (d != PGR_DISPATCH_ROUTE)
            return d;
    }
    if (pgr_pgrvar_answer_query(cl, c, pgr_reply_idle_status(cl))) {
        pgr_iobuf_consume(&cl->conn.in, f->len);
        return PGR_DISPATCH_ANSWERED;
    }
    if (is_lone_begin(c) && !cl->held_begin) {
        if (hold_begin(cl, f, &c->stmts[0]) != 0) {
            pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
            return PGR_DISPATCH_CLOSED;
        }
        return PGR_DISPATCH_ANSWERED;
    }
    if (is_lone_end(c) && cl->held_begin) {
        /* An empty transaction: nothing ever reached a server. */
        char status;
        const char *tag = end_held(cl, &c->stmts[0], &status);
        pgr_iobuf_consume(&cl->conn.in, f->len);
        reply_tag(cl, tag, status);
        return PGR_DISPATCH_ANSWERED;
    }
    return route(cl, c, c->cls);
}

/* A named Parse with no server linked, in transaction mode: the statement is recorded and
 * ParseComplete answered here; it is prepared on a server connection when a Bind or Describe
 * needs it there (session/relay.c). A client that prepares while all server connections are
 * taken (pgbench -M prepared prepares synchronously, one thread for many clients) never waits
 * for one. Left to a server when PostgreSQL's parser refuses the text (the server's own error
 * is the client's) or a hint or the session sends it elsewhere than one node. */
static bool
parse_here(pgr_client_t *cl, const pgr_frame_t *f, const pgr_classification_t *c)
{
    const char *name = (const char *)f->body;
    size_t nl = strnlen(name, f->body_len) + 1;
    pgr_stmt_t *sm;

    if (!cl->rewrite || c->parse_error || c->hint != PGR_HINT_NONE || c->hint_error ||
        cl->route == PGR_SESSION_ROUTE_BROADCAST || nl > f->body_len)
        return false;
    if ((sm = pgr_stmts_add(&cl->stmts, name, f->body + nl, f->body_len - nl)) == NULL)
        return false; /* over the cap: the relay answers with its error */
    sm->cls = c->cls;
    sm->plain = pgr_carry_is_plain(c);
    pgr_iobuf_consume(&cl->conn.in, f->len);
    pgr_writer_t w;
    pgr_writer_init_grow(&w);
    pgr_fe_write_empty(&w, '1');
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    return true;
}

pgr_dispatch_t
pgr_dispatch_begin(pgr_client_t *cl, const pgr_frame_t *f)
{
    const pgr_classification_t *c = NULL;

    if (f->type == 'Q')
        return begin_query(cl, f);
    if (f->type != 'S' && f->type != 'H' && (cl->held_failed || cl->held_begin)) {
        /* The end of a held transaction, in the extended protocol. */
        pgr_dispatch_t d = PGR_DISPATCH_ROUTE;
        c = batch_statement(cl, f);
        if (cl->held_failed)
            d = held_failed_input(cl, f, c);
        else if (c && is_lone_end(c))
            d = end_held_extended(cl, &c->stmts[0]);
        if (d != PGR_DISPATCH_ROUTE)
            return d;
        c = NULL;
    }
    switch (f->type) {
    case 'P': {
        pgr_fe_parse_t m;
        const pgr_stmt_info_t *st = pgr_pgrvar_parse(cl, f);
        if (st) {
            pgr_dispatch_t d =
                pgr_pgrvar_answer_parse(cl, f, st, pgr_reply_idle_status(cl));
            if (d != PGR_DISPATCH_ROUTE)
                return d;
        }
        if (pgr_fe_parse_decode(f->body, f->body_len, &m) != 0)
            return route(cl, NULL, PGR_CLASS_WRITE);
        if (classify(cl, m.query, strlen(m.query), &c) != 0)
            return PGR_DISPATCH_CLOSED;
        if (m.name[0] == '\0' && !cl->held_begin && is_lone_begin(c)) {
            pgr_dispatch_t d = hold_begin_extended(cl, m.query, &c->stmts[0]);
            if (d != PGR_DISPATCH_ROUTE)
                return d;
        }
        if (m.name[0] != '\0' && parse_here(cl, f, c))
            return PGR_DISPATCH_ANSWERED;
        return route_batch(cl, m.query, strlen(m.query), c->cls);
    }
    case 'S':
    case 'H':
        /* A Sync or Flush with nothing in flight (the Parse before it was answered here):
         * nothing for a server to do. */
        if (!cl->rewrite)
            return route(cl, NULL, PGR_CLASS_WRITE);
        pgr_iobuf_consume(&cl->conn.in, f->len);
        if (f->type == 'S') {
            pgr_client_send_ready(cl, pgr_reply_idle_status(cl));
            pgr_conn_flush(&cl->conn);
        }
        return PGR_DISPATCH_ANSWERED;
    case 'B':
    case 'D': {
        pgr_fe_bind_t m;
        pgr_fe_target_t t;
        const char *name;
        const pgr_stmt_info_t *st = pgr_pgrvar_local_stmt(cl, f);
        if (st) {
            pgr_dispatch_t d =
                pgr_pgrvar_answer_stmt(cl, st, pgr_reply_idle_status(cl));
            if (d != PGR_DISPATCH_ROUTE)
                return d;
        }
        if (f->type == 'B') {
            if (pgr_fe_bind_decode(f->body, f->body_len, &m) != 0)
                return route(cl, NULL, PGR_CLASS_WRITE);
            name = m.statement;
        } else {
            /* A portal's Describe: the portal was made on the primary, or is not there. A
             * statement's goes where its Bind would. */
            if (pgr_fe_describe_decode(f->body, f->body_len, &t) != 0 || t.kind != 'S')
                return route(cl, NULL, PGR_CLASS_WRITE);
            name = t.name;
        }
        if (name[0] == '\0')
            return route_batch(cl, NULL, 0, cl->unnamed_cls);
        pgr_stmt_t *sm = pgr_stmts_find(&cl->stmts, name);
        if (sm == NULL)
            return route(cl, NULL, PGR_CLASS_WRITE); /* the server will say it does not exist */
        /* The statement's own text decides, hint comment included (cached: one lookup). */
        const char *sql = (const char *)sm->rest;
        size_t len = strnlen(sql, sm->rest_len);
        if (classify(cl, sql, len, &c) != 0)
            return PGR_DISPATCH_CLOSED;
        return route_batch(cl, sql, len, c->cls);
    }
    default: {
        const pgr_stmt_info_t *st = pgr_pgrvar_local_stmt(cl, f);
        if (st) {
            pgr_dispatch_t d =
                pgr_pgrvar_answer_stmt(cl, st, pgr_reply_idle_status(cl));
            if (d != PGR_DISPATCH_ROUTE)
                return d;
        }
        /* Execute, FunctionCall, Close: whatever they touch was made on the primary, or they
         * are harmless there. */
        return route(cl, NULL, PGR_CLASS_WRITE);
    }
    }
}
