/* The broadcast merge engine: lockstep of the nodes' replies, failures, and the batch's end
 * (see merge.h). Result sets — streaming, ordered and aggregate merges, LIMIT — are in
 * merge_rows.c; both share merge_int.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fanout/merge_int.h"
#include "protocol/frame.h"

/* ---- small helpers ------------------------------------------------------------------------ */

void
pgr_merge_sb_printf(pgr_merge_sb_t *b, const char *fmt, ...)
{
    va_list ap;
    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 128) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static char *
xstrdup(const char *s, bool *oom)
{
    char *d = strdup(s ? s : "");
    if (d == NULL)
        *oom = true;
    return d;
}

static const char *
type_name(uint8_t type)
{
    const char *s = pgr_frame_type_name(type, PGR_PHASE_BACKEND);
    return s ? s : "an unknown message";
}

/* "node pg2 (127.0.0.1:5433)" */
static void
node_label(pgr_merge_sb_t *b, const mnode_t *nd)
{
    if (nd->addr && nd->addr[0])
        pgr_merge_sb_printf(b, "node %s (%s)", nd->id, nd->addr);
    else
        pgr_merge_sb_printf(b, "node %s", nd->id);
}

/* "node pg2 (127.0.0.1:5433) failed: 23505 duplicate key ..." */
static void
failure_text(pgr_merge_sb_t *b, const mnode_t *nd)
{
    node_label(b, nd);
    pgr_merge_sb_printf(b, " failed: %s %s", nd->sqlstate ? nd->sqlstate : "XX000",
                        nd->message ? nd->message : "");
}

/* ---- failures ----------------------------------------------------------------------------- */

int
pgr_merge_node_fail(pgr_merge_t *m, int i, const char *sqlstate, const char *message,
                    const char *detail, const uint8_t *err, size_t err_len, bool broken)
{
    mnode_t *nd = &m->nodes[i];
    bool oom = false;

    if (broken)
        nd->broken = true;
    if (nd->failed)
        return 0;
    nd->failed = true;
    m->fail_order[m->n_failed++] = i;
    nd->sqlstate = xstrdup(sqlstate, &oom);
    nd->message = xstrdup(message, &oom);
    if (detail)
        nd->detail = xstrdup(detail, &oom);
    if (err) {
        nd->err = malloc(err_len ? err_len : 1);
        if (nd->err) {
            memcpy(nd->err, err, err_len);
            nd->err_len = err_len;
        } else {
            oom = true;
        }
    }
    pgr_merge_row_drop(&nd->head);
    if (m->policy == PGR_MERGE_FAIL) {
        if (!m->halted) {
            m->halted = true;
            for (int k = 0; k < m->n; k++)
                pgr_merge_row_drop(&m->nodes[k].head);
        }
    } else {
        nd->warn_pending = true;
    }
    return oom ? PGR_ENOMEM : 0;
}

/* Node i replied differently from the unit's first node: fails, stays in sync. */
int
pgr_merge_node_differs(pgr_merge_t *m, int i, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pgr_merge_node_fail(m, i, "42804", msg, NULL, NULL, 0, false);
}

static int
violation(pgr_merge_t *m, int i, const char *sqlstate, const char *fmt, ...)
    PGR_PRINTF(4, 5);

/* Node i broke the protocol: fails for good (the caller closes its connection). */
static int
violation(pgr_merge_t *m, int i, const char *sqlstate, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pgr_merge_node_fail(m, i, sqlstate, msg, NULL, NULL, 0, true);
}

/* The WARNING for every failed node not yet reported, in failure order. */
void
pgr_merge_flush_warnings(pgr_merge_t *m, pgr_writer_t *out)
{
    for (int k = 0; k < m->n_failed; k++) {
        mnode_t *nd = &m->nodes[m->fail_order[k]];
        if (!nd->warn_pending)
            continue;
        nd->warn_pending = false;
        pgr_merge_sb_t b = {0};
        failure_text(&b, nd);
        if (b.oom)
            pgr_writer_fail(out, PGR_ENOMEM);
        else
            (void)pgr_be_write_error(out, true, "WARNING", "01000", b.p, nd->detail, NULL);
        free(b.p);
    }
}

int
pgr_merge_abort(pgr_merge_t *m, const char *sqlstate, const char *message, const char *hint)
{
    bool oom = false;
    if (m->abort_state != NULL)
        return 0;
    m->abort_state = xstrdup(sqlstate, &oom);
    m->abort_msg = xstrdup(message, &oom);
    m->abort_hint = hint ? xstrdup(hint, &oom) : NULL;
    m->halted = true;
    for (int k = 0; k < m->n; k++)
        pgr_merge_row_drop(&m->nodes[k].head);
    pgr_merge_group_free(m->rs.groups);
    m->rs.groups = NULL;
    return oom ? PGR_ENOMEM : 0;
}

/* The batch's ErrorResponse (policy FAIL, every node failed, or the merge's own). */
static void
final_error(pgr_merge_t *m, pgr_writer_t *out)
{
    if (m->abort_state != NULL) {
        pgr_merge_flush_warnings(m, out);
        (void)pgr_be_write_error(out, false, "ERROR", m->abort_state, m->abort_msg, NULL,
                                 m->abort_hint);
        return;
    }
    const mnode_t *first = &m->nodes[m->fail_order[0]];
    bool same = m->n_failed == m->n;
    for (int k = 1; k < m->n_failed && same; k++) {
        const mnode_t *nd = &m->nodes[m->fail_order[k]];
        same = strcmp(nd->sqlstate ? nd->sqlstate : "", first->sqlstate ? first->sqlstate : "") ==
                   0 &&
               strcmp(nd->message ? nd->message : "", first->message ? first->message : "") == 0;
    }
    if (same && first->err) {
        pgr_writer_begin(out, 'E');
        pgr_writer_put_bytes(out, first->err, first->err_len);
        (void)pgr_writer_finish(out);
        return;
    }
    if (same) {
        (void)pgr_be_write_error(out, false, "ERROR", first->sqlstate, first->message, NULL, NULL);
        return;
    }
    pgr_merge_sb_t msg = {0}, det = {0};
    failure_text(&msg, first);
    pgr_merge_sb_printf(&det, "applied on: ");
    int applied = 0;
    for (int i = 0; i < m->n; i++)
        if (!m->nodes[i].failed)
            pgr_merge_sb_printf(&det, "%s%s", applied++ ? ", " : "", m->nodes[i].id);
    if (applied == 0)
        pgr_merge_sb_printf(&det, "none");
    pgr_merge_sb_printf(&det, "; failed on: ");
    for (int k = 0; k < m->n_failed; k++) {
        const mnode_t *nd = &m->nodes[m->fail_order[k]];
        pgr_merge_sb_printf(&det, "%s%s (%s %.200s)", k ? ", " : "", nd->id,
                            nd->sqlstate ? nd->sqlstate : "", nd->message ? nd->message : "");
    }
    if (msg.oom || det.oom)
        pgr_writer_fail(out, PGR_ENOMEM);
    else
        (void)pgr_be_write_error(out, false, "ERROR", first->sqlstate, msg.p, det.p, NULL);
    free(msg.p);
    free(det.p);
}

/* ---- progress ----------------------------------------------------------------------------- */

static bool
unit_complete(const pgr_merge_t *m)
{
    int live = 0;
    if (m->unit == U_NONE)
        return false;
    for (int i = 0; i < m->n; i++) {
        const mnode_t *nd = &m->nodes[i];
        if (nd->failed)
            continue;
        live++;
        if (m->unit == U_END ? !nd->ready : nd->pos <= m->cur)
            return false;
    }
    return live > 0;
}

/* After any change: emit what the change allows, close the unit, end the batch. */
static int
progress(pgr_merge_t *m, pgr_writer_t *out)
{
    int rc = 0;
    if (!m->halted && m->unit == U_ROWS)
        rc = pgr_merge_rows_pump(m, out);
    if (rc == 0 && !m->halted && unit_complete(m)) {
        if (m->unit == U_ROWS)
            rc = pgr_merge_rows_finish(m, out);
        m->cur++;
        m->unit = U_NONE;
        free(m->single_body);
        m->single_body = NULL;
        m->single_len = 0;
    }
    if (rc)
        return rc;
    for (int i = 0; i < m->n; i++)
        if (!m->nodes[i].ready && !m->nodes[i].broken)
            return out->err;
    /* Every node is finished: the batch's end. */
    if (m->halted || m->n_failed == m->n)
        final_error(m, out);
    else
        pgr_merge_flush_warnings(m, out);
    uint8_t status = 'I';
    for (int i = 0; i < m->n; i++) {
        const mnode_t *nd = &m->nodes[i];
        if (!nd->ready)
            continue;
        if (nd->status == 'E')
            status = 'E';
        else if (nd->status == 'T' && status != 'E')
            status = 'T';
    }
    (void)pgr_be_write_ready(out, status);
    m->done = true;
    return out->err;
}

/* ---- the units ---------------------------------------------------------------------------- */

static const char *
unit_name(const pgr_merge_t *m)
{
    switch (m->unit) {
    case U_SINGLE:
        return type_name(m->single);
    case U_ROWDESC:
        return "RowDescription";
    case U_ROWS:
        return "a result set";
    case U_END:
        return "ReadyForQuery";
    default:
        return "nothing";
    }
}

/* A message that belongs to a unit (not ErrorResponse / ReadyForQuery / out-of-band). */
static int
unit_msg(pgr_merge_t *m, int i, uint8_t type, const uint8_t *body, size_t len,
         pgr_writer_t *out)
{
    mnode_t *nd = &m->nodes[i];
    unit_kind_t kind = type == 'T' ? U_ROWDESC
                       : type == 'D' || type == 'C' || type == 's' ? U_ROWS
                                                                    : U_SINGLE;
    bool first = m->unit == U_NONE;

    if (!first && (m->unit != kind || (kind == U_SINGLE && m->single != type)))
        return pgr_merge_node_differs(m, i, "replied %s where node %s replied %s",
                                      kind == U_ROWS ? "a result set" : type_name(type),
                                      m->nodes[m->unit_node].id, unit_name(m));
    if (first) {
        m->unit = kind;
        m->unit_node = i;
        m->single = type;
    }
    switch (kind) {
    case U_SINGLE:
        if (first) {
            if (type == 't') {
                m->single_body = malloc(len ? len : 1);
                if (m->single_body == NULL)
                    return PGR_ENOMEM;
                memcpy(m->single_body, body, len);
                m->single_len = len;
            }
            pgr_merge_flush_warnings(m, out);
            pgr_writer_begin(out, type);
            pgr_writer_put_bytes(out, body, len);
            (void)pgr_writer_finish(out);
        } else if (type == 't' && (len != m->single_len || memcmp(body, m->single_body, len))) {
            return pgr_merge_node_differs(m, i, "parameter types differ from node %s's",
                                          m->nodes[m->unit_node].id);
        }
        nd->pos++;
        return 0;
    case U_ROWDESC: {
        int rc = m->verify  ? pgr_merge_verify_rowdesc(m, i, first, body, len, out)
                 : first    ? pgr_merge_rowdesc_first(m, i, body, len, out)
                            : pgr_merge_rowdesc_check(m, i, body, len);
        if (rc == 0 && !nd->failed)
            nd->pos++;
        return rc;
    }
    default:
        return pgr_merge_rows_msg(m, i, first, type, body, len, out);
    }
}

static int
ready_msg(pgr_merge_t *m, int i, uint8_t status)
{
    mnode_t *nd = &m->nodes[i];
    int rc = 0;
    if (!nd->failed && !m->halted) {
        if (m->unit == U_NONE) {
            m->unit = U_END;
            m->unit_node = i;
        } else if (m->unit != U_END) {
            rc = pgr_merge_node_differs(m, i, "replied ReadyForQuery where node %s replied %s",
                                        m->nodes[m->unit_node].id, unit_name(m));
        }
    }
    nd->ready = true;
    nd->status = status;
    return rc;
}

static int
error_msg(pgr_merge_t *m, int i, const pgr_be_notice_t *e, const uint8_t *body, size_t len)
{
    const char *sev = e->severity_nl ? e->severity_nl : e->severity;
    bool fatal = sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0);
    return pgr_merge_node_fail(m, i, e->sqlstate ? e->sqlstate : "XX000",
                               e->message ? e->message : "", e->detail, body, len, fatal);
}

/* A node's NoticeResponse, its message prefixed with the node id. */
static void
notice_msg(pgr_merge_t *m, int i, pgr_be_notice_t *n, pgr_writer_t *out)
{
    pgr_merge_sb_t b = {0};
    pgr_merge_sb_printf(&b, "%s: %s", m->nodes[i].id, n->message ? n->message : "");
    if (b.oom) {
        pgr_writer_fail(out, PGR_ENOMEM);
        return;
    }
    n->message = b.p;
    (void)pgr_be_write_notice_msg(out, true, n);
    free(b.p);
}

/* ParameterStatus: once per distinct (name, value) in the batch. */
static int
param_msg(pgr_merge_t *m, const pgr_be_param_t *p, pgr_writer_t *out)
{
    size_t nl = strlen(p->name), vl = strlen(p->value), len = nl + 1 + vl;
    for (int k = 0; k < m->n_params; k++)
        if (m->params[k].len == len && memcmp(m->params[k].s, p->name, nl + 1) == 0 &&
            memcmp(m->params[k].s + nl + 1, p->value, vl) == 0)
            return 0;
    if (m->n_params == m->cap_params) {
        int cap = m->cap_params ? m->cap_params * 2 : 8;
        void *np = realloc(m->params, (size_t)cap * sizeof(*m->params));
        if (np == NULL)
            return PGR_ENOMEM;
        m->params = np;
        m->cap_params = cap;
    }
    char *s = malloc(len + 1);
    if (s == NULL)
        return PGR_ENOMEM;
    memcpy(s, p->name, nl + 1);
    memcpy(s + nl + 1, p->value, vl + 1);
    m->params[m->n_params].s = s;
    m->params[m->n_params].len = len;
    m->n_params++;
    (void)pgr_be_write_param(out, p->name, p->value);
    return 0;
}

/* Decodes one message (every decoder checks its body) and routes it. */
static int
dispatch(pgr_merge_t *m, int i, uint8_t type, const uint8_t *body, size_t len,
         pgr_writer_t *out)
{
    mnode_t *nd = &m->nodes[i];
    bool quiet = nd->failed || m->halted; /* nothing of node i reaches the client */
    int rc;

    switch (type) {
    case 'S': {
        pgr_be_param_t p;
        if ((rc = pgr_be_param_decode(body, len, &p)) != 0)
            break;
        return nd->failed ? 0 : param_msg(m, &p, out);
    }
    case 'N': {
        pgr_be_notice_t n;
        if ((rc = pgr_be_notice_decode(body, len, &n)) != 0)
            break;
        if (!quiet)
            notice_msg(m, i, &n, out);
        return 0;
    }
    case 'A': {
        pgr_be_notify_t a;
        if ((rc = pgr_be_notify_decode(body, len, &a)) != 0)
            break;
        if (!quiet) {
            pgr_writer_begin(out, 'A');
            pgr_writer_put_bytes(out, body, len);
            (void)pgr_writer_finish(out);
        }
        return 0;
    }
    case 'E': {
        pgr_be_notice_t e;
        if ((rc = pgr_be_notice_decode(body, len, &e)) != 0)
            break;
        return error_msg(m, i, &e, body, len);
    }
    case 'Z': {
        pgr_be_ready_t z;
        if ((rc = pgr_be_ready_decode(body, len, &z)) != 0)
            break;
        if (z.status != 'I' && z.status != 'T' && z.status != 'E') {
            rc = PGR_EPROTO;
            break;
        }
        return ready_msg(m, i, z.status);
    }
    case 'T': {
        pgr_be_rowdesc_t t;
        if ((rc = pgr_be_rowdesc_decode(body, len, &t)) != 0)
            break;
        return quiet ? 0 : unit_msg(m, i, type, body, len, out);
    }
    case 'D': {
        pgr_be_datarow_t d;
        if ((rc = pgr_be_datarow_decode(body, len, &d)) != 0)
            break;
        nd->rows++;
        return quiet ? 0 : unit_msg(m, i, type, body, len, out);
    }
    case 'C': {
        pgr_be_complete_t c;
        pgr_tag_t t;
        if ((rc = pgr_be_complete_decode(body, len, &c)) != 0)
            break;
        if (pgr_tag_parse(c.tag, &t) != 0)
            return violation(m, i, "08P01", "sent a malformed command tag \"%.64s\"", c.tag);
        return quiet ? 0 : unit_msg(m, i, type, body, len, out);
    }
    case 't': {
        pgr_be_paramdesc_t p;
        if ((rc = pgr_be_paramdesc_decode(body, len, &p)) != 0)
            break;
        return quiet ? 0 : unit_msg(m, i, type, body, len, out);
    }
    case '1':
    case '2':
    case '3':
    case 'n':
    case 'I':
    case 's':
        if (len != 0) {
            rc = PGR_ETRAILING;
            break;
        }
        return quiet ? 0 : unit_msg(m, i, type, body, len, out);
    case 'G':
    case 'H':
    case 'W':
        return violation(m, i, "0A000", "COPY is not supported in a broadcast");
    default:
        return violation(m, i, "08P01", "sent %s during a query", type_name(type));
    }
    return violation(m, i, "08P01", "sent an invalid %s: %s", type_name(type), pgr_strerror(rc));
}

/* ---- the API ------------------------------------------------------------------------------ */

int
pgr_merge_new(const pgr_merge_plan_t *plan, int n, const pgr_merge_node_t *nodes,
              pgr_merge_policy_t policy, bool node_column, pgr_merge_t **out)
{
    pgr_merge_t *m = NULL;
    bool oom = false;

    *out = NULL;
    if (n < 1 || n > PGR_MERGE_MAX_NODES || nodes == NULL ||
        (policy != PGR_MERGE_WARN && policy != PGR_MERGE_FAIL))
        return PGR_EINVAL;
    for (int i = 0; i < n; i++)
        if (nodes[i].id == NULL)
            return PGR_EINVAL;
    if (plan && plan->unsupported == NULL && !plan->verify) {
        if (plan->n_keys < 0 || plan->n_keys > PGR_MERGE_MAX_KEYS || plan->n_aggs < 0 ||
            plan->n_aggs > PGR_MERGE_MAX_AGGS || plan->limit < -1 || plan->offset < -1 ||
            (plan->aggregate && plan->group))
            return PGR_EINVAL;
        for (int k = 0; k < plan->n_keys; k++) {
            const pgr_sort_key_t *key = &plan->keys[k];
            if (memchr(key->name, '\0', sizeof(key->name)) == NULL ||
                memchr(key->collation, '\0', sizeof(key->collation)) == NULL ||
                (key->column < 0 && (key->column != -1 || key->name[0] == '\0')))
                return PGR_EINVAL;
        }
        for (int k = 0; k < plan->n_aggs; k++)
            if (plan->aggs[k] < PGR_AGG_NONE || plan->aggs[k] > PGR_AGG_MAX)
                return PGR_EINVAL;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return PGR_ENOMEM;
    m->n = n;
    m->merge_memory = PGR_MERGE_MEMORY_DEFAULT;
    m->policy = policy;
    m->node_column = node_column;
    m->nodes = calloc((size_t)n, sizeof(*m->nodes));
    m->fail_order = calloc((size_t)n, sizeof(*m->fail_order));
    if (m->nodes == NULL || m->fail_order == NULL)
        goto fail;
    for (int i = 0; i < n; i++) {
        m->nodes[i].id = xstrdup(nodes[i].id, &oom);
        m->nodes[i].addr = nodes[i].addr ? xstrdup(nodes[i].addr, &oom) : NULL;
    }
    if (plan && plan->verify) {
        m->verify = true;
        m->node_column = false; /* the node is the verify row's first column */
        m->plan = (pgr_merge_plan_t){ .limit = -1, .offset = -1, .ordered = plan->ordered,
                                      .verify = true };
    } else if (plan) {
        m->has_plan = true;
        m->plan = *plan;
        m->plan.unsupported = NULL;
        if (plan->unsupported)
            m->unsupported = xstrdup(plan->unsupported, &oom);
    }
    if (oom)
        goto fail;
    pgr_merge_rs_reset(m);
    *out = m;
    return 0;
fail:
    pgr_merge_free(m);
    return PGR_ENOMEM;
}

void
pgr_merge_free(pgr_merge_t *m)
{
    if (m == NULL)
        return;
    for (int i = 0; m->nodes && i < m->n; i++) {
        mnode_t *nd = &m->nodes[i];
        free(nd->id);
        free(nd->addr);
        free(nd->sqlstate);
        free(nd->message);
        free(nd->detail);
        free(nd->err);
        free(nd->dbcoll);
        free(nd->head.p);
    }
    for (int k = 0; k < m->n_params; k++)
        free(m->params[k].s);
    free(m->params);
    pgr_merge_rs_reset(m);
    free(m->rs.last.p);
    free(m->nodes);
    free(m->fail_order);
    free(m->unsupported);
    free(m->abort_state);
    free(m->abort_msg);
    free(m->abort_hint);
    free(m->single_body);
    free(m->rd);
    free(m);
}

bool
pgr_merge_wants(const pgr_merge_t *m, int i)
{
    pgr_assert(i >= 0 && i < m->n);
    const mnode_t *nd = &m->nodes[i];
    if (m->done || nd->ready || nd->broken)
        return false;
    if (nd->failed || m->halted)
        return true;
    if (nd->pos > m->cur)
        return false;
    return !(m->rs.mode == RS_ORDERED && nd->head.held);
}

int
pgr_merge_feed(pgr_merge_t *m, int i, uint8_t type, const uint8_t *body, size_t len,
               pgr_writer_t *out)
{
    pgr_assert(i >= 0 && i < m->n);
    const mnode_t *nd = &m->nodes[i];
    if (m->done || nd->ready || nd->broken)
        return PGR_EINVAL;
    if (!pgr_merge_wants(m, i))
        return PGR_EBUSY;
    int rc = dispatch(m, i, type, body, len, out);
    int rc2 = progress(m, out);
    return rc ? rc : rc2;
}

int
pgr_merge_fail(pgr_merge_t *m, int i, const char *sqlstate, const char *message,
               pgr_writer_t *out)
{
    pgr_assert(i >= 0 && i < m->n);
    const mnode_t *nd = &m->nodes[i];
    if (m->done || nd->ready || nd->broken)
        return 0;
    int rc = pgr_merge_node_fail(m, i, sqlstate ? sqlstate : "08006",
                                 message ? message : "connection to node lost", NULL, NULL, 0,
                                 true);
    int rc2 = progress(m, out);
    return rc ? rc : rc2;
}

int
pgr_merge_node_collation(pgr_merge_t *m, int i, const char *name, char provider)
{
    pgr_assert(i >= 0 && i < m->n);
    mnode_t *nd = &m->nodes[i];
    char *copy = NULL;
    if (name != NULL && provider != 0 && (copy = strdup(name)) == NULL)
        return PGR_ENOMEM;
    free(nd->dbcoll);
    nd->dbcoll = copy;
    nd->dbprov = copy ? provider : 0;
    return 0;
}

void
pgr_merge_set_memory(pgr_merge_t *m, size_t bytes)
{
    m->merge_memory = bytes;
}

bool
pgr_merge_plan_compares(const pgr_merge_plan_t *plan)
{
    if (plan == NULL || plan->unsupported != NULL)
        return false;
    if (!plan->aggregate && !plan->group)
        return plan->n_keys > 0;
    if (plan->n_keys > 0)
        return true;
    for (int k = 0; k < plan->n_aggs && k < PGR_MERGE_MAX_AGGS; k++)
        if (plan->aggs[k] == PGR_AGG_MIN || plan->aggs[k] == PGR_AGG_MAX)
            return true;
    return false;
}

bool
pgr_merge_done(const pgr_merge_t *m)
{
    return m->done;
}

bool
pgr_merge_node_synced(const pgr_merge_t *m, int i, uint8_t *status)
{
    pgr_assert(i >= 0 && i < m->n);
    const mnode_t *nd = &m->nodes[i];
    if (status)
        *status = nd->ready ? nd->status : 0;
    return nd->ready && !nd->broken;
}

void
pgr_merge_node_result(const pgr_merge_t *m, int i, bool *ok, uint64_t *rows,
                      const char **sqlstate, const char **message)
{
    pgr_assert(i >= 0 && i < m->n);
    const mnode_t *nd = &m->nodes[i];
    if (ok)
        *ok = !nd->failed;
    if (rows)
        *rows = nd->rows;
    if (sqlstate)
        *sqlstate = nd->failed ? nd->sqlstate : NULL;
    if (message)
        *message = nd->failed ? nd->message : NULL;
}
