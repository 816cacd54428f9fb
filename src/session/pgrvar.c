/* pgrouter.* settings answered by pgrouter itself — SET, RESET and SHOW of pgrouter.route,
 * node_column, broadcast, broadcast_consistency, SHOW pgrouter.last_broadcast — in a simple
 * Query, or an extended-protocol batch of the one statement (which a held BEGIN's answers use
 * too), at the start of a transaction or inside one (see pgrvar.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "route/classify.h"
#include "session/pgrvar.h"
#include "session/lastbcast.h"

static const char *
route_value(const pgr_client_t *cl, char *buf, size_t cap)
{
    if (cl->route == PGR_SESSION_ROUTE_NODE) {
        snprintf(buf, cap, "node:%s", cl->route_node);
        return buf;
    }
    return pgr_session_route_name(cl->route);
}

/* The settable pgrouter.* variables. */
typedef enum { VAR_ROUTE, VAR_NODECOL, VAR_BROADCAST, VAR_CONSISTENCY, VAR_NONE } pgrvar_t;

static pgrvar_t
pgrvar_kind(const char *name)
{
    static const char *const names[] = { "pgrouter.route", "pgrouter.node_column",
                                         "pgrouter.broadcast", "pgrouter.broadcast_consistency" };
    for (int k = 0; k < VAR_NONE; k++)
        if (strcmp(name, names[k]) == 0)
            return (pgrvar_t)k;
    return VAR_NONE;
}

static const char *
pgrvar_value(const pgr_client_t *cl, pgrvar_t k, char *buf, size_t cap)
{
    switch (k) {
    case VAR_ROUTE:
        return route_value(cl, buf, cap);
    case VAR_NODECOL:
        return cl->node_column ? "on" : "off";
    case VAR_BROADCAST:
        return cl->bcast_verify ? "verify" : "merge";
    default:
        return cl->bcast_lsn ? "lsn" : "none";
    }
}

/* SET of a pgrouter.* variable other than pgrouter.route; false (with msg) for a bad value. */
static bool
pgrvar_set(pgr_client_t *cl, pgrvar_t k, const char *name, const char *v, char *msg, size_t cap)
{
    switch (k) {
    case VAR_NODECOL:
        if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcmp(v, "1")) {
            cl->node_column = true;
        } else if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcmp(v, "0")) {
            cl->node_column = false;
        } else {
            snprintf(msg, cap, "parameter \"%s\" requires a Boolean value", name);
            return false;
        }
        return true;
    case VAR_BROADCAST:
        if (!strcasecmp(v, "merge") || !strcasecmp(v, "verify")) {
            cl->bcast_verify = strcasecmp(v, "verify") == 0;
            return true;
        }
        snprintf(msg, cap, "invalid value for parameter \"%s\": \"%s\" (expected merge or verify)",
                 name, v);
        return false;
    default:
        if (!strcasecmp(v, "none") || !strcasecmp(v, "lsn")) {
            cl->bcast_lsn = strcasecmp(v, "lsn") == 0;
            return true;
        }
        snprintf(msg, cap, "invalid value for parameter \"%s\": \"%s\" (expected none or lsn)",
                 name, v);
        return false;
    }
}

/* SET / RESET / SHOW of a pgrouter.* variable: reply into w (no ReadyForQuery). */
static void
pgrvar(pgr_client_t *cl, const pgr_stmt_info_t *st, pgr_writer_t *w)
{
    char msg[256], buf[96];
    const char *name = st->pgrvar_name;
    pgrvar_t kind = pgrvar_kind(name);

    if (strcmp(name, "pgrouter.last_broadcast") == 0) {
        if (st->pgrvar == PGR_PGRVAR_SHOW) {
            pgr_lastbcast_show(cl, w);
        } else {
            snprintf(msg, sizeof(msg), "parameter \"%s\" cannot be changed", name);
            pgr_be_write_error(w, false, "ERROR", "55P02", msg, NULL, NULL);
        }
        return;
    }
    if (kind == VAR_NONE) {
        snprintf(msg, sizeof(msg), "unrecognized configuration parameter \"%s\"", name);
        pgr_be_write_error(w, false, "ERROR", "42704", msg, NULL,
                           "pgrouter's settings are pgrouter.route, pgrouter.node_column, "
                           "pgrouter.broadcast, pgrouter.broadcast_consistency and "
                           "pgrouter.last_broadcast.");
        return;
    }
    switch (st->pgrvar) {
    case PGR_PGRVAR_SHOW: {
        pgr_be_field_t field = { .name = name, .type_oid = 25, .typlen = -1,
                                 .typmod = -1, .format = 0 };
        const char *v = pgrvar_value(cl, kind, buf, sizeof(buf));
        pgr_value_t col = { (const uint8_t *)v, (int32_t)strlen(v) };
        pgr_be_write_rowdesc(w, 1, &field);
        pgr_be_write_datarow(w, 1, &col);
        pgr_be_write_complete(w, "SHOW");
        return;
    }
    case PGR_PGRVAR_RESET:
        if (kind == VAR_ROUTE) {
            cl->route = PGR_SESSION_ROUTE_AUTO;
            cl->route_node[0] = '\0';
        } else if (kind == VAR_NODECOL) {
            cl->node_column = cl->rt->cfg->broadcast.node_column;
        } else if (kind == VAR_BROADCAST) {
            cl->bcast_verify = false;
        } else {
            cl->bcast_lsn = false;
        }
        pgr_be_write_complete(w, st->tag ? st->tag : "RESET"); /* SET x TO DEFAULT: "SET" */
        return;
    case PGR_PGRVAR_SET:
        if (st->pgrvar_bad) {
            snprintf(msg, sizeof(msg), "invalid value for parameter \"%s\": a constant is needed",
                     name);
            pgr_be_write_error(w, false, "ERROR", "22023", msg, NULL, NULL);
            return;
        }
        if (kind == VAR_ROUTE) {
            pgr_session_route_t r;
            char node[PGR_NODE_ID_MAX];
            int rc = pgr_router_parse_session_route(cl->rt->router, st->pgrvar_value, &r, node,
                                                    sizeof(node), msg, sizeof(msg));
            if (rc != 0) {
                pgr_be_write_error(w, false, "ERROR", rc == PGR_ENOENT ? "42704" : "22023", msg,
                                   NULL, NULL);
                return;
            }
            cl->route = r;
            snprintf(cl->route_node, sizeof(cl->route_node), "%s", node);
        } else if (!pgrvar_set(cl, kind, name, st->pgrvar_value, msg, sizeof(msg))) {
            pgr_be_write_error(w, false, "ERROR", "22023", msg, NULL, NULL);
            return;
        }
        pgr_be_write_complete(w, "SET");
        return;
    default:
        return;
    }
}

/* A Query whose every statement is a pgrouter.* setting is answered here. */
bool
pgr_pgrvar_answer_query(pgr_client_t *cl, const pgr_classification_t *c, char status)
{
    pgr_writer_t w;

    if (c->n_stmts == 0 || c->parse_error)
        return false;
    for (int i = 0; i < c->n_stmts; i++)
        if (c->stmts[i].pgrvar == PGR_PGRVAR_NONE)
            return false;
    pgr_writer_init_grow(&w);
    for (int i = 0; i < c->n_stmts; i++) {
        size_t before = w.len;
        pgrvar(cl, &c->stmts[i], &w);
        if (w.len > before && w.buf[before] == 'E') {
            if (status == 'T')
                status = 'E';
            break; /* an error ends a multi-statement query, as on a server */
        }
    }
    pgr_be_write_ready(&w, (uint8_t)status);
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    return true;
}

/* The end of the extended-protocol batch at the front of the input in *end, when the whole
 * batch is about the one statement its first message names — a Parse, Bind or Describe of it,
 * then only Bind of that statement, Describe / Execute / Close of it or of the portals bound
 * from it, Flush, and the Sync. PGR_DISPATCH_WAIT until the Sync is in, ROUTE when the batch
 * is anything else (it goes to a server: another statement's Execute must never get this
 * one's answer), ANSWERED (with *end) when it is. */
pgr_dispatch_t
pgr_pgrvar_extended_batch(pgr_client_t *cl, size_t *end)
{
    pgr_iobuf_t *in = &cl->conn.in;
    const uint8_t *p = pgr_iobuf_data(in);
    size_t len = pgr_iobuf_len(in), off = 0;
    char stmt[128], portals[4][128];
    int n_portals = 0;
    pgr_frame_t f;

    for (;;) {
        if (pgr_frame_next(p + off, len - off, PGR_PHASE_FRONTEND, NULL, &f) != PGR_FRAME_OK)
            return PGR_DISPATCH_WAIT;
        const char *name = NULL, *portal = NULL;
        bool ok = false;
        pgr_fe_parse_t pm;
        pgr_fe_bind_t bm;
        pgr_fe_target_t tm;
        pgr_fe_execute_t em;
        switch (f.type) {
        case 'P':
            ok = off == 0 && pgr_fe_parse_decode(f.body, f.body_len, &pm) == 0;
            name = ok ? pm.name : NULL;
            break;
        case 'B':
            ok = pgr_fe_bind_decode(f.body, f.body_len, &bm) == 0;
            name = ok ? bm.statement : NULL;
            portal = ok ? bm.portal : NULL;
            break;
        case 'D':
        case 'C':
            ok = (f.type == 'D' ? pgr_fe_describe_decode(f.body, f.body_len, &tm)
                                : pgr_fe_close_decode(f.body, f.body_len, &tm)) == 0;
            if (ok && tm.kind == 'S')
                name = tm.name;
            else if (ok)
                portal = tm.name; /* must be one of ours */
            break;
        case 'E':
            ok = pgr_fe_execute_decode(f.body, f.body_len, &em) == 0;
            portal = ok ? em.portal : NULL;
            break;
        case 'H':
        case 'S':
            ok = off > 0;
            break;
        default:
            break;
        }
        if (!ok)
            return PGR_DISPATCH_ROUTE;
        if (off == 0) {
            if (name == NULL || strlen(name) >= sizeof(stmt))
                return PGR_DISPATCH_ROUTE;
            snprintf(stmt, sizeof(stmt), "%s", name);
        } else if (name && strcmp(name, stmt) != 0) {
            return PGR_DISPATCH_ROUTE;
        }
        if (portal && f.type == 'B') {
            if (n_portals == 4 || strlen(portal) >= sizeof(portals[0]))
                return PGR_DISPATCH_ROUTE;
            snprintf(portals[n_portals++], sizeof(portals[0]), "%s", portal);
        } else if (portal) {
            bool ours = false;
            for (int i = 0; i < n_portals && !ours; i++)
                ours = strcmp(portals[i], portal) == 0;
            if (!ours)
                return PGR_DISPATCH_ROUTE;
        }
        off += f.len;
        if (f.type == 'S') {
            *end = off;
            return PGR_DISPATCH_ANSWERED;
        }
    }
}

/* Answer the extended batch input[0..end) of one statement as a server would, given what the
 * statement answers in the simple protocol (result: [T D] C, or E) and the transaction status
 * after it: ParseComplete, BindComplete, CloseComplete, a RowDescription or NoData for
 * Describe, the rows and tag for Execute, ReadyForQuery for Sync. */
void
pgr_pgrvar_answer_extended(pgr_client_t *cl, size_t end, const pgr_writer_t *result,
                             char status)
{
    pgr_iobuf_t *in = &cl->conn.in;
    const uint8_t *p = pgr_iobuf_data(in);
    size_t off;
    pgr_frame_t f;
    pgr_writer_t w;
    bool failed = result->len > 0 && result->buf[0] == 'E';
    size_t rowdesc = 0;

    if (!failed && result->len > 0 && result->buf[0] == 'T')
        rowdesc = 1 + pgr_be32(result->buf + 1);
    pgr_writer_init_grow(&w);
    for (off = 0; off < end; off += f.len) {
        (void)pgr_frame_next(p + off, end - off, PGR_PHASE_FRONTEND, NULL, &f);
        if (failed && f.type != 'S' && f.type != 'E')
            continue; /* after an error, everything up to Sync is skipped */
        switch (f.type) {
        case 'P':
            pgr_fe_write_empty(&w, '1');
            break;
        case 'B':
            pgr_fe_write_empty(&w, '2');
            break;
        case 'C':
            pgr_fe_write_empty(&w, '3');
            break;
        case 'D':
            if (f.body_len > 0 && f.body[0] == 'S')
                pgr_be_write_paramdesc(&w, 0, NULL);
            if (rowdesc)
                pgr_writer_put_bytes(&w, result->buf, rowdesc);
            else
                pgr_fe_write_empty(&w, 'n');
            break;
        case 'E':
            if (failed)
                pgr_writer_put_bytes(&w, result->buf, result->len);
            else
                pgr_writer_put_bytes(&w, result->buf + rowdesc, result->len - rowdesc);
            break;
        case 'S':
            pgr_be_write_ready(&w, (uint8_t)(failed && status == 'T' ? 'E' : status));
            break;
        default:
            break;
        }
    }
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    pgr_iobuf_consume(in, end);
}

/* The extended protocol's form of a pgrouter.* statement, answered here. Returns
 * PGR_DISPATCH_WAIT until the Sync is in, ANSWERED when done, or ROUTE when this batch is
 * not one (it goes to a server like any other). */
pgr_dispatch_t
pgr_pgrvar_answer_stmt(pgr_client_t *cl, const pgr_stmt_info_t *st, char status)
{
    size_t end = 0;
    pgr_dispatch_t d = pgr_pgrvar_extended_batch(cl, &end);
    pgr_writer_t result;

    if (d != PGR_DISPATCH_ANSWERED)
        return d;
    pgr_writer_init_grow(&result);
    pgrvar(cl, st, &result);
    pgr_pgrvar_answer_extended(cl, end, &result, status);
    pgr_writer_free(&result);
    return PGR_DISPATCH_ANSWERED;
}

/* A Parse whose statement is one pgrouter.* statement. */
const pgr_stmt_info_t *
pgr_pgrvar_parse(pgr_client_t *cl, const pgr_frame_t *f)
{
    pgr_fe_parse_t m;
    const pgr_classification_t *c;

    if (f->type != 'P' || pgr_fe_parse_decode(f->body, f->body_len, &m) != 0 ||
        strstr(m.query, "pgrouter.") == NULL ||
        pgr_classify(cl->rt->classifier, m.query, strlen(m.query), &c) != 0 || c->n_stmts != 1 ||
        c->stmts[0].pgrvar == PGR_PGRVAR_NONE)
        return NULL;
    return &c->stmts[0];
}

/* A named pgrouter.* statement (recorded when its Parse was answered here): the Bind or
 * Describe of it at the front of the input starts a batch answered here too. NULL when f is
 * not about one. */
const pgr_stmt_info_t *
pgr_pgrvar_local_stmt(pgr_client_t *cl, const pgr_frame_t *f)
{
    const char *name = NULL;
    pgr_fe_bind_t b;
    pgr_fe_target_t t;
    const pgr_stmt_t *sm;
    const pgr_classification_t *c;

    if (f->type == 'B' && pgr_fe_bind_decode(f->body, f->body_len, &b) == 0)
        name = b.statement;
    else if (f->type == 'D' && pgr_fe_describe_decode(f->body, f->body_len, &t) == 0 &&
             t.kind == 'S')
        name = t.name;
    if (name == NULL || name[0] == '\0' || (sm = pgr_stmts_find(&cl->stmts, name)) == NULL ||
        sm->cls != PGR_STMT_LOCAL)
        return NULL;
    const char *sql = (const char *)sm->rest;
    if (pgr_classify(cl->rt->classifier, sql, strnlen(sql, sm->rest_len), &c) != 0 ||
        c->n_stmts != 1 || c->stmts[0].pgrvar == PGR_PGRVAR_NONE)
        return NULL;
    return &c->stmts[0];
}

/* A Parse of a pgrouter.* statement answered here: a named one is recorded (PGR_STMT_LOCAL)
 * so that its later Bind / Describe are answered here too. */
pgr_dispatch_t
pgr_pgrvar_answer_parse(pgr_client_t *cl, const pgr_frame_t *f,
                                 const pgr_stmt_info_t *st, char status)
{
    pgr_fe_parse_t m;
    uint8_t *copy = NULL;
    size_t len = f->body_len;

    /* The frame lives in the input, which the answer consumes. */
    if (pgr_fe_parse_decode(f->body, f->body_len, &m) == 0 && m.name[0] != '\0' &&
        (copy = malloc(len)) != NULL)
        memcpy(copy, f->body, len);
    pgr_dispatch_t d = pgr_pgrvar_answer_stmt(cl, st, status);
    if (d == PGR_DISPATCH_ANSWERED && copy) {
        size_t nl = strlen((const char *)copy) + 1;
        pgr_stmt_t *sm = pgr_stmts_add(&cl->stmts, (const char *)copy, copy + nl, len - nl);
        if (sm)
            sm->cls = PGR_STMT_LOCAL;
    }
    free(copy);
    return d;
}

pgr_dispatch_t
pgr_pgrvar_local(pgr_client_t *cl, const pgr_frame_t *f)
{
    pgr_fe_query_t q;
    const pgr_classification_t *c;
    const pgr_stmt_info_t *st;
    char status = cl->srv || cl->bcast ? cl->txn : pgr_reply_idle_status(cl);

    if ((st = pgr_pgrvar_parse(cl, f)) != NULL)
        return pgr_pgrvar_answer_parse(cl, f, st, status);
    if ((st = pgr_pgrvar_local_stmt(cl, f)) != NULL)
        return pgr_pgrvar_answer_stmt(cl, st, status);
    if (f->type != 'Q' || pgr_fe_query_decode(f->body, f->body_len, &q) != 0 ||
        memmem(q.sql, q.len, "pgrouter.", 9) == NULL)
        return PGR_DISPATCH_ROUTE;
    if (pgr_classify(cl->rt->classifier, q.sql, q.len, &c) != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory classifying a statement");
        return PGR_DISPATCH_CLOSED;
    }
    size_t flen = f->len;
    if (!pgr_pgrvar_answer_query(cl, c, status))
        return PGR_DISPATCH_ROUTE;
    pgr_iobuf_consume(&cl->conn.in, flen);
    return PGR_DISPATCH_ANSWERED;
}
