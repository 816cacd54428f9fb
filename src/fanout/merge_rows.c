/* Result sets of the broadcast merge: RowDescriptions (with the node column), DataRows
 * streamed, merged in order (k-way, one buffered row per node) or handed to the aggregate
 * (merge_agg.c) and GROUP BY (merge_group.c) merges, LIMIT/OFFSET on the merged stream, and
 * the summed CommandComplete. See merge.h. */
#include <stdio.h>
#include <string.h>

#include "fanout/merge_int.h"

/* Rows bigger than this are not kept allocated once placed. */
#define ROW_KEEP_MAX 65536

void
pgr_merge_row_drop(row_t *r)
{
    r->held = false;
    if (r->cap > ROW_KEEP_MAX) {
        free(r->p);
        r->p = NULL;
        r->cap = 0;
    }
}

void
pgr_merge_rs_reset(pgr_merge_t *m)
{
    for (int j = 0; m->rs.colls_open && j < PGR_MERGE_MAX_AGGS; j++)
        pgr_datum_coll_close(&m->rs.colls[j]);
    for (int j = 0; m->rs.colls_open && j < PGR_MERGE_MAX_KEYS; j++)
        pgr_datum_coll_close(&m->rs.kcolls[j]);
    pgr_merge_group_free(m->rs.groups);
    row_t last = m->rs.last;
    free(m->rs.tag_text);
    pgr_merge_row_drop(&last);
    memset(&m->rs, 0, sizeof(m->rs));
    m->rs.last = last;
    m->rs.ncols = -1;
    m->rs.limit = -1;
}

static int
row_copy(pgr_merge_t *m, row_t *r, const uint8_t *body, size_t len)
{
    if (r->cap < len) {
        size_t cap = len < 256 ? 256 : len;
        uint8_t *p = realloc(r->p, cap);
        if (p == NULL)
            return PGR_ENOMEM;
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p, body, len);
    r->len = len;
    r->held = true;
    if (m->rs.mode != RS_ORDERED)
        return 0;
    pgr_be_datarow_t d;
    pgr_value_iter_t it;
    pgr_value_t v;
    if (pgr_be_datarow_decode(r->p, len, &d) != 0)
        return PGR_EPROTO; /* fed bodies are decoded before they get here */
    pgr_be_datarow_iter(&d, &it);
    for (int c = 0; pgr_value_next(&it, &v); c++)
        for (int j = 0; j < m->plan.n_keys; j++)
            if (m->rs.cols[j] == c)
                r->key[j] = v;
    return 0;
}

/* A DataRow for the client, the node column first when asked. */
void
pgr_merge_write_row(pgr_merge_t *m, pgr_writer_t *out, const char *nodeval, const uint8_t *body,
          size_t len)
{
    pgr_merge_flush_warnings(m, out);
    pgr_writer_begin(out, 'D');
    if (m->node_column) {
        pgr_writer_put_i16(out, (int16_t)(pgr_be16(body) + 1));
        pgr_writer_put_value(out, nodeval, (int32_t)strlen(nodeval));
        pgr_writer_put_bytes(out, body + 2, len - 2);
    } else {
        pgr_writer_put_bytes(out, body, len);
    }
    (void)pgr_writer_finish(out);
}

/* OFFSET and LIMIT on the merged stream: true when the next row goes to the client. */
bool
pgr_merge_admit(pgr_merge_t *m)
{
    if (m->rs.limit_reached)
        return false;
    if (m->rs.skipped < m->rs.offset) {
        m->rs.skipped++;
        return false;
    }
    m->rs.emitted++;
    if (m->rs.limit >= 0 && m->rs.emitted >= (uint64_t)m->rs.limit)
        m->rs.limit_reached = true;
    return true;
}

void
pgr_merge_plan_notice(pgr_merge_t *m, pgr_writer_t *out, const char *why)
{
    if (m->plan_noticed)
        return;
    m->plan_noticed = true;
    pgr_merge_sb_t b = {0};
    pgr_merge_sb_printf(&b,
                        "pgrouter: the broadcast result is not merged (%s); the nodes' rows "
                        "are concatenated",
                        why);
    if (b.oom)
        pgr_writer_fail(out, PGR_ENOMEM);
    else
        (void)pgr_be_write_error(out, true, "NOTICE", "00000", b.p, NULL, NULL);
    free(b.p);
}

static void
order_warning(pgr_merge_t *m, pgr_writer_t *out, const char *why)
{
    if (m->order_warned)
        return;
    m->order_warned = true;
    pgr_merge_sb_t b = {0};
    pgr_merge_sb_printf(&b, "pgrouter: the merged result may not follow its ORDER BY: %s", why);
    if (b.oom)
        pgr_writer_fail(out, PGR_ENOMEM);
    else
        (void)pgr_be_write_error(out, true, "WARNING", "01000", b.p, NULL, NULL);
    free(b.p);
}

/* ---- RowDescription ----------------------------------------------------------------------- */

int
pgr_merge_rowdesc_first(pgr_merge_t *m, int i, const uint8_t *body, size_t len,
                        pgr_writer_t *out)
{
    pgr_be_rowdesc_t t;
    if (pgr_be_rowdesc_decode(body, len, &t) != 0)
        return PGR_EPROTO;
    uint8_t *rd = realloc(m->rd, len ? len : 1);
    if (rd == NULL)
        return PGR_ENOMEM;
    memcpy(rd, body, len);
    m->rd = rd;
    m->rd_len = len;
    m->rd_node = i;
    m->rd_seen = true;
    if (m->node_column && t.nfields >= INT16_MAX)
        return pgr_merge_node_fail(m, i, "54011", "too many columns to add the node column",
                                   NULL, NULL, 0, false);
    pgr_merge_flush_warnings(m, out);
    if (!m->node_column) {
        pgr_writer_begin(out, 'T');
        pgr_writer_put_bytes(out, body, len);
        (void)pgr_writer_finish(out);
        return 0;
    }
    pgr_be_field_t *f = malloc(((size_t)t.nfields + 1) * sizeof(*f));
    if (f == NULL)
        return PGR_ENOMEM;
    pgr_be_rowdesc_iter_t it;
    pgr_be_rowdesc_iter(&t, &it);
    int n = 1;
    while (n <= t.nfields && pgr_be_rowdesc_next(&it, &f[n]))
        n++;
    /* text's binary form is its bytes: take the first column's format, so a client that asked
     * for every column in one format gets it. */
    f[0] = (pgr_be_field_t){.name = "node", .type_oid = PGR_OID_TEXT, .typlen = -1,
                            .typmod = -1, .format = n > 1 ? f[1].format : 0};
    (void)pgr_be_write_rowdesc(out, n, f);
    free(f);
    return 0;
}

int
pgr_merge_rowdesc_check(pgr_merge_t *m, int i, const uint8_t *body, size_t len)
{
    pgr_be_rowdesc_t ref, mine;
    pgr_rowdesc_diff_t diff;
    if (pgr_be_rowdesc_decode(m->rd, m->rd_len, &ref) != 0 ||
        pgr_be_rowdesc_decode(body, len, &mine) != 0)
        return PGR_EPROTO;
    if (pgr_be_rowdesc_equal(&ref, &mine, &diff))
        return 0;
    return pgr_merge_node_differs(m, i, "result differs from node %s's: %s",
                                  m->nodes[m->rd_node].id, diff.text);
}

/* ---- starting a result set: the plan ------------------------------------------------------ */

/* Checks the plan against the RowDescription and takes the column types; NULL or why not. */
static const char *
typed_setup(pgr_merge_t *m, int ncols, char *why, size_t cap)
{
    const pgr_merge_plan_t *p = &m->plan;
    pgr_be_rowdesc_t t;
    pgr_be_rowdesc_iter_t it;
    pgr_be_field_t f;

    if (!m->rd_seen || pgr_be_rowdesc_decode(m->rd, m->rd_len, &t) != 0)
        return "no RowDescription came before the rows";
    if (ncols >= 0 && ncols != t.nfields)
        return "the rows do not match the last RowDescription";
    bool per_column = p->aggregate || p->group;
    if (per_column && p->n_aggs != t.nfields) {
        snprintf(why, cap, "%d aggregates planned for %d columns", p->n_aggs, t.nfields);
        return why;
    }
    /* Keys by name: the one field of that name (the nodes' RowDescription: no node column). */
    for (int j = 0; !p->aggregate && j < p->n_keys; j++) {
        int found = 0;
        m->rs.cols[j] = p->keys[j].column;
        if (p->keys[j].column >= 0)
            continue;
        pgr_be_rowdesc_iter(&t, &it);
        for (int c = 0; pgr_be_rowdesc_next(&it, &f); c++)
            if (strcmp(f.name, p->keys[j].name) == 0 && found++ == 0)
                m->rs.cols[j] = c;
        if (found != 1) {
            snprintf(why, cap, "ORDER BY \"%.63s\" %s", p->keys[j].name,
                     found ? "matches several result columns" : "is not a result column");
            return why;
        }
    }
    pgr_be_rowdesc_iter(&t, &it);
    for (int c = 0; pgr_be_rowdesc_next(&it, &f); c++) {
        pgr_datum_kind_t kind = pgr_datum_kind(f.type_oid, f.format);
        unsigned oid = (unsigned)f.type_oid;
        if (per_column) {
            m->rs.kinds[c] = kind;
            m->rs.formats[c] = f.format;
            m->rs.oids[c] = f.type_oid;
            switch (p->aggs[c]) {
            case PGR_AGG_COUNT:
                if (f.type_oid != PGR_OID_INT8 || (f.format != 0 && f.format != 1)) {
                    snprintf(why, cap, "count column %d has type OID %u, not int8", c + 1, oid);
                    return why;
                }
                break;
            case PGR_AGG_SUM:
                if (!((f.type_oid == PGR_OID_INT8 && (f.format == 0 || f.format == 1)) ||
                      (f.type_oid == PGR_OID_NUMERIC && (f.format == 0 || f.format == 1)))) {
                    snprintf(why, cap, "sum column %d has type OID %u, which is not added exactly",
                             c + 1, oid);
                    return why;
                }
                break;
            case PGR_AGG_MIN:
            case PGR_AGG_MAX:
                if (kind == PGR_DATUM_OTHER) {
                    snprintf(why, cap, "min/max column %d has type OID %u, whose order is unknown",
                             c + 1, oid);
                    return why;
                }
                break;
            default:
                if (p->group && kind == PGR_DATUM_OTHER) {
                    snprintf(why, cap,
                             "GROUP BY column %d has type OID %u, whose equality is unknown",
                             c + 1, oid);
                    return why;
                }
                break;
            }
            if (!p->group)
                continue;
        }
        if (p->group) {
            for (int j = 0; j < p->n_keys; j++)
                if (m->rs.cols[j] == c && kind == PGR_DATUM_OTHER) {
                    snprintf(why, cap, "ORDER BY column %d has type OID %u, whose order is "
                             "unknown", c + 1, oid);
                    return why;
                }
            continue;
        }
        for (int j = 0; j < p->n_keys; j++) {
            if (m->rs.cols[j] != c)
                continue;
            if (kind == PGR_DATUM_OTHER) {
                snprintf(why, cap, "ORDER BY column %d has type OID %u, whose order is unknown",
                         c + 1, oid);
                return why;
            }
            m->rs.kinds[j] = kind;
            m->rs.formats[j] = f.format;
            m->rs.oids[j] = f.type_oid;
        }
    }
    for (int j = 0; !p->aggregate && j < p->n_keys; j++)
        if (m->rs.cols[j] >= t.nfields) {
            snprintf(why, cap, "ORDER BY column %d is not in the result's %d columns",
                     m->rs.cols[j] + 1, t.nfields);
            return why;
        }
    return NULL;
}

static void
rs_start(pgr_merge_t *m, uint8_t type, int ncols, pgr_writer_t *out)
{
    pgr_merge_rs_reset(m);
    if (m->verify) {
        /* Every result set that has a RowDescription or rows (not a SET's tag). */
        if (m->rd_fresh || type == 'D')
            pgr_merge_verify_start(m);
        m->rd_fresh = false;
        return;
    }
    if (!m->has_plan || m->plan_used || !(m->rd_seen || type == 'D'))
        return;
    m->plan_used = true;
    m->rs.target = true;
    if (m->unsupported) {
        pgr_merge_plan_notice(m, out, m->unsupported);
        return;
    }
    const pgr_merge_plan_t *p = &m->plan;
    if (p->aggregate || p->group || p->n_keys > 0) {
        char buf[160];
        const char *why = typed_setup(m, ncols, buf, sizeof(buf));
        if (why) {
            pgr_merge_plan_notice(m, out, why);
            return;
        }
        m->rs.mode = p->aggregate ? RS_AGG : p->group ? RS_GROUP : RS_ORDERED;
    }
    m->rs.limit = p->limit;
    m->rs.offset = p->offset > 0 ? (uint64_t)p->offset : 0;
    if (m->rs.limit == 0)
        m->rs.limit_reached = true;
}

/* ---- collations --------------------------------------------------------------------------- */

/* The database default every live node reported, or NULL (unknown, or they differ). */
static const mnode_t *
default_collation(const pgr_merge_t *m)
{
    const mnode_t *first = NULL;
    for (int i = 0; i < m->n; i++) {
        const mnode_t *nd = &m->nodes[i];
        if (nd->failed)
            continue;
        if (nd->dbprov == 0 || nd->dbcoll == NULL)
            return NULL;
        if (first == NULL)
            first = nd;
        else if (nd->dbprov != first->dbprov || strcmp(nd->dbcoll, first->dbcoll) != 0)
            return NULL;
    }
    return first;
}

void
pgr_merge_coll_for(const pgr_merge_t *m, pgr_coll_t *c, pgr_datum_kind_t kind, const char *explicit_name)
{
    const mnode_t *def;
    c->kind = PGR_COLL_BYTES;
    c->loc = (locale_t)0;
    if (kind != PGR_DATUM_TEXT && kind != PGR_DATUM_BPCHAR && kind != PGR_DATUM_NAME)
        return;
    if (explicit_name != NULL && explicit_name[0] != '\0' &&
        strcmp(explicit_name, "default") != 0) {
        pgr_datum_coll_open(c, explicit_name, 'c');
        return;
    }
    if (kind == PGR_DATUM_NAME && explicit_name == NULL)
        return; /* name's own collation is "C" */
    if ((def = default_collation(m)) == NULL) {
        c->kind = PGR_COLL_UNKNOWN;
        return;
    }
    pgr_datum_coll_open(c, def->dbcoll, def->dbprov);
}

void
pgr_merge_colls_open(pgr_merge_t *m)
{
    if (m->rs.colls_open)
        return;
    m->rs.colls_open = true;
    if (m->rs.mode == RS_ORDERED) {
        for (int j = 0; j < m->plan.n_keys; j++) {
            const char *name = m->plan.keys[j].collation;
            pgr_merge_coll_for(m, &m->rs.colls[j], m->rs.kinds[j], name[0] ? name : NULL);
        }
    } else if (m->rs.mode == RS_AGG || m->rs.mode == RS_GROUP) {
        for (int c = 0; c < m->plan.n_aggs; c++)
            pgr_merge_coll_for(m, &m->rs.colls[c], m->rs.kinds[c], NULL);
        for (int j = 0; m->rs.mode == RS_GROUP && j < m->plan.n_keys; j++) {
            const char *name = m->plan.keys[j].collation;
            pgr_merge_coll_for(m, &m->rs.kcolls[j], m->rs.kinds[m->rs.cols[j]],
                               name[0] ? name : NULL);
        }
    }
}

/* ---- ordered merge ------------------------------------------------------------------------ */

/* a vs b by the sort keys; *bad gets the 1-based key whose values did not parse. */
static int
row_cmp(const pgr_merge_t *m, const row_t *a, const row_t *b, int *bad)
{
    for (int j = 0; j < m->plan.n_keys; j++) {
        const pgr_sort_key_t *k = &m->plan.keys[j];
        pgr_value_t va = a->key[j], vb = b->key[j];
        int c;
        if (va.len < 0 || vb.len < 0) {
            if (va.len < 0 && vb.len < 0)
                c = 0;
            else if (va.len < 0)
                c = k->nulls_first ? -1 : 1;
            else
                c = k->nulls_first ? 1 : -1;
        } else {
            if (pgr_datum_compare_coll(&m->rs.colls[j], m->rs.kinds[j], m->rs.formats[j],
                                       va.data, (size_t)va.len,
                                  vb.data, (size_t)vb.len, &c) != 0 &&
                *bad == 0)
                *bad = j + 1;
            if (k->desc)
                c = -c;
        }
        if (c)
            return c;
    }
    return 0;
}

static void
cmp_warning(pgr_merge_t *m, pgr_writer_t *out, int bad)
{
    char why[160];
    if (bad == 0 || m->order_warned)
        return;
    snprintf(why, sizeof(why),
             "values of ORDER BY column %d could not be read as type OID %u (DateStyle not "
             "ISO?); they were compared bytewise",
             m->rs.cols[bad - 1] + 1, (unsigned)m->rs.oids[bad - 1]);
    order_warning(m, out, why);
}

/* The collation the text keys were compared in, for the out-of-order warning. */
static const char *
coll_label(const pgr_merge_t *m)
{
    for (int j = 0; j < m->plan.n_keys; j++)
        if (m->rs.colls[j].kind == PGR_COLL_LIBC) {
            const char *name = m->plan.keys[j].collation;
            const mnode_t *def = default_collation(m);
            if (name[0] && strcmp(name, "default") != 0)
                return name;
            return def ? def->dbcoll : "C";
        }
    return "C";
}

/* Node j's head row is the least: to the client (through OFFSET/LIMIT), and it becomes the
 * last row merged. */
static void
place(pgr_merge_t *m, int j, pgr_writer_t *out)
{
    mnode_t *nd = &m->nodes[j];
    int bad = 0;
    if (m->rs.last.held && row_cmp(m, &nd->head, &m->rs.last, &bad) < 0) {
        char why[160];
        snprintf(why, sizeof(why),
                 "node %.64s sent a row that sorts before one already merged (is its collation "
                 "%s?)",
                 nd->id, coll_label(m));
        order_warning(m, out, why);
    }
    cmp_warning(m, out, bad);
    if (pgr_merge_admit(m))
        pgr_merge_write_row(m, out, nd->id, nd->head.p, nd->head.len);
    row_t tmp = m->rs.last;
    m->rs.last = nd->head;
    nd->head = tmp;
    nd->head.held = false;
    m->rs.last.held = true;
}

int
pgr_merge_rows_pump(pgr_merge_t *m, pgr_writer_t *out)
{
    if (m->rs.mode != RS_ORDERED)
        return 0;
    for (;;) {
        if (!m->rs.limit_reached && !m->rs.colls_open) {
            /* Not before every live node has a row or is done: each node's collation is told
             * before its rows come. */
            bool all = true;
            for (int j = 0; j < m->n && all; j++) {
                const mnode_t *nd = &m->nodes[j];
                all = nd->failed || nd->pos > m->cur || nd->head.held;
            }
            if (!all)
                return out->err;
            pgr_merge_colls_open(m);
        }
        if (m->rs.limit_reached) {
            for (int j = 0; j < m->n; j++)
                pgr_merge_row_drop(&m->nodes[j].head);
            return out->err;
        }
        int best = -1, bad = 0;
        for (int j = 0; j < m->n; j++) {
            const mnode_t *nd = &m->nodes[j];
            if (nd->failed || nd->pos > m->cur)
                continue;
            if (!nd->head.held)
                return out->err; /* its next row may be the least */
            if (best < 0 || row_cmp(m, &nd->head, &m->nodes[best].head, &bad) < 0)
                best = j;
        }
        cmp_warning(m, out, bad);
        if (best < 0)
            return out->err;
        place(m, best, out);
    }
}

/* ---- messages of a result set ------------------------------------------------------------- */

static int
complete_msg(pgr_merge_t *m, int i, const uint8_t *body, size_t len)
{
    pgr_be_complete_t c;
    pgr_tag_t t;
    if (pgr_be_complete_decode(body, len, &c) != 0 || pgr_tag_parse(c.tag, &t) != 0)
        return PGR_EPROTO; /* decoded before */
    if (!m->rs.have_tag) {
        if ((m->rs.tag_text = strdup(c.tag)) == NULL)
            return PGR_ENOMEM;
        (void)pgr_tag_parse(m->rs.tag_text, &m->rs.tag);
        m->rs.have_tag = true;
    } else {
        int rc = pgr_tag_sum(&m->rs.tag, &t);
        if (rc == PGR_EINVAL)
            return pgr_merge_node_differs(m, i, "completed with \"%.64s\" where others completed "
                                                "with \"%.64s\"",
                                          c.tag, m->rs.tag_text);
        if (rc)
            return pgr_merge_node_fail(m, i, "54000", "the summed row count overflows", NULL,
                                       NULL, 0, false);
    }
    m->nodes[i].pos++;
    return 0;
}

static int
datarow_msg(pgr_merge_t *m, int i, const uint8_t *body, size_t len, pgr_writer_t *out)
{
    mnode_t *nd = &m->nodes[i];
    pgr_be_datarow_t d;
    if (pgr_be_datarow_decode(body, len, &d) != 0)
        return PGR_EPROTO;
    if (m->rs.mode == RS_VERIFY) {
        /* Rows of another width are part of what differs: hashed, not failed. */
        m->rs.any_rows = true;
        pgr_merge_verify_row(m, i, body, len);
        return 0;
    }
    if (m->node_column && d.ncols >= INT16_MAX)
        return pgr_merge_node_fail(m, i, "54011", "too many columns to add the node column",
                                   NULL, NULL, 0, false);
    if (m->rs.ncols < 0)
        m->rs.ncols = d.ncols;
    else if (d.ncols != m->rs.ncols)
        return pgr_merge_node_differs(m, i, "sent rows of %d columns where others sent %d",
                                      d.ncols, m->rs.ncols);
    m->rs.any_rows = true;
    if (m->rs.limit_reached)
        return 0;
    switch (m->rs.mode) {
    case RS_ORDERED:
        return row_copy(m, &nd->head, body, len);
    case RS_GROUP:
        return pgr_merge_group_row(m, i, body, len, &d);
    case RS_AGG:
        if (!nd->head.held)
            return row_copy(m, &nd->head, body, len);
        {
            char why[128];
            snprintf(why, sizeof(why), "node %.64s returned more than one row", nd->id);
            pgr_merge_agg_fallback(m, out, why);
        }
        /* fall through */
    default:
        if (pgr_merge_admit(m))
            pgr_merge_write_row(m, out, nd->id, body, len);
        return 0;
    }
}

int
pgr_merge_rows_msg(pgr_merge_t *m, int i, bool first, uint8_t type, const uint8_t *body,
                   size_t len, pgr_writer_t *out)
{
    if (first) {
        int ncols = -1;
        pgr_be_datarow_t d;
        if (type == 'D' && pgr_be_datarow_decode(body, len, &d) == 0)
            ncols = d.ncols;
        rs_start(m, type, ncols, out);
    }
    switch (type) {
    case 'D':
        return datarow_msg(m, i, body, len, out);
    case 'C':
        return complete_msg(m, i, body, len);
    default: /* 's' */
        m->nodes[i].suspended = true;
        m->nodes[i].pos++;
        return 0;
    }
}

int
pgr_merge_rows_finish(pgr_merge_t *m, pgr_writer_t *out)
{
    int rc = 0;
    bool suspended = false;

    if (m->rs.mode == RS_VERIFY) {
        for (int j = 0; j < m->n; j++)
            m->nodes[j].suspended = false;
        rc = pgr_merge_verify_finish(m, out);
        pgr_merge_rs_reset(m);
        return rc ? rc : out->err;
    }
    if (m->rs.mode == RS_AGG)
        rc = pgr_merge_agg_finish(m, out);
    else if (m->rs.mode == RS_GROUP)
        rc = pgr_merge_group_finish(m, out);
    else if (m->rs.mode == RS_ORDERED)
        rc = pgr_merge_rows_pump(m, out);
    for (int j = 0; j < m->n; j++) {
        mnode_t *nd = &m->nodes[j];
        suspended |= !nd->failed && nd->suspended;
        nd->suspended = false;
        pgr_merge_row_drop(&nd->head);
    }
    if (rc == 0) {
        pgr_merge_flush_warnings(m, out);
        if (suspended) {
            pgr_writer_begin(out, 's');
            (void)pgr_writer_finish(out);
        } else if (m->rs.have_tag) {
            pgr_tag_t t = m->rs.tag;
            size_t cap = strlen(m->rs.tag_text) + 32;
            char *buf = malloc(cap);
            if (buf == NULL) {
                rc = PGR_ENOMEM;
            } else {
                if (t.kind == PGR_TAG_SELECT && m->rs.any_rows)
                    t.count = m->rs.emitted;
                if (pgr_tag_format(&t, buf, cap) >= 0)
                    (void)pgr_be_write_complete(out, buf);
                free(buf);
            }
        }
    }
    pgr_merge_rs_reset(m);
    return rc ? rc : out->err;
}
