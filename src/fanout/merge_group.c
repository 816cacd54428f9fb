/* GROUP BY merge of a broadcast result set: every node's groups are held (within
 * broadcast.merge_memory), sorted by the grouping columns so that equal groups of different
 * nodes lie together, combined by their aggregates, sorted by the ORDER BY keys and sent
 * through OFFSET/LIMIT once every node has completed the result set. See merge.h.
 *
 * Grouping columns are equal as datum.h compares them: numbers by value (1.0 = 1.00, -0 = 0,
 * NaN = NaN, as PostgreSQL's equality operators), char(n) without trailing spaces, dates and
 * times as instants, text, varchar, name and bytea bytewise (what GROUP BY does in a
 * deterministic collation). NULLs form one group. Of equal keys that differ in their bytes
 * (1.0 and 1.00) the merged row shows one, as PostgreSQL shows the first of its input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/merge_int.h"

/* One held row: a node's group on input, a merged group after combining. */
typedef struct grow {
    int node;           /* the node it came from; -1 once merged */
    char *ids;          /* merged: the node column's value ("pg1,pg3"), or NULL */
    uint8_t *body;      /* a DataRow body; vals point into it */
    size_t len;
    pgr_value_t vals[]; /* rs.ncols of them */
} grow_t;

struct pgr_merge_groups {
    grow_t **rows;
    size_t n, cap;
    size_t mem;         /* counted against m->merge_memory */
};

static void
grow_free(grow_t *r)
{
    if (r != NULL)
        free(r->ids);
    free(r);
}

void
pgr_merge_group_free(pgr_merge_groups_t *g)
{
    if (g == NULL)
        return;
    for (size_t k = 0; k < g->n; k++)
        grow_free(g->rows[k]);
    free(g->rows);
    free(g);
}

/* A row of ncols values in one allocation (values copied into its own DataRow body). */
static grow_t *
grow_new(int ncols, const uint8_t *body, size_t len)
{
    grow_t *r = malloc(sizeof(*r) + (size_t)ncols * sizeof(pgr_value_t) + len);
    if (r == NULL)
        return NULL;
    r->node = -1;
    r->ids = NULL;
    r->body = (uint8_t *)(r->vals + ncols);
    r->len = len;
    memcpy(r->body, body, len);
    pgr_be_datarow_t d;
    pgr_value_iter_t it;
    if (pgr_be_datarow_decode(r->body, len, &d) != 0 || d.ncols != ncols) {
        free(r);
        return NULL;
    }
    pgr_be_datarow_iter(&d, &it);
    for (int c = 0; c < ncols && pgr_value_next(&it, &r->vals[c]); c++)
        ;
    return r;
}

static int
too_big(pgr_merge_t *m)
{
    char msg[200];
    size_t mb = m->merge_memory >> 20;
    if (mb > 0)
        snprintf(msg, sizeof(msg),
                 "pgrouter: the broadcast GROUP BY merge needs more than broadcast.merge_memory "
                 "(%zuMB) to hold the nodes' groups",
                 mb);
    else
        snprintf(msg, sizeof(msg),
                 "pgrouter: the broadcast GROUP BY merge needs more than broadcast.merge_memory "
                 "(%zu bytes) to hold the nodes' groups",
                 m->merge_memory);
    return pgr_merge_abort(m, "54000", msg,
                           "Raise broadcast.merge_memory, or ask for fewer groups.");
}

int
pgr_merge_group_row(pgr_merge_t *m, int i, const uint8_t *body, size_t len,
                    const pgr_be_datarow_t *d)
{
    pgr_merge_groups_t *g = m->rs.groups;
    size_t need = sizeof(grow_t) + (size_t)d->ncols * sizeof(pgr_value_t) + len +
                  sizeof(grow_t *);
    if (g == NULL) {
        if ((g = calloc(1, sizeof(*g))) == NULL)
            return PGR_ENOMEM;
        m->rs.groups = g;
    }
    if (need > m->merge_memory || g->mem > m->merge_memory - need)
        return too_big(m);
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        grow_t **rows = realloc(g->rows, cap * sizeof(*rows));
        if (rows == NULL)
            return PGR_ENOMEM;
        g->rows = rows;
        g->cap = cap;
    }
    grow_t *r = grow_new(d->ncols, body, len);
    if (r == NULL)
        return PGR_ENOMEM; /* fed bodies are decoded before they get here */
    r->node = i;
    g->rows[g->n++] = r;
    g->mem += need;
    return 0;
}

/* ---- comparisons -------------------------------------------------------------------------- */

/* NULL below any value: grouping only needs one consistent order. */
static int
value_cmp(const pgr_coll_t *coll, pgr_datum_kind_t kind, int16_t format, const pgr_value_t *a,
          const pgr_value_t *b)
{
    int c;
    if (a->len < 0 || b->len < 0)
        return (a->len >= 0) - (b->len >= 0);
    /* a value that does not parse compares bytewise (c is set either way) */
    (void)pgr_datum_compare_coll(coll, kind, format, a->data, (size_t)a->len, b->data,
                                 (size_t)b->len, &c);
    return c;
}

/* By the grouping columns (the plan's NONE columns); text bytewise. */
static int
key_cmp(const void *pa, const void *pb, void *arg)
{
    const pgr_merge_t *m = arg;
    const grow_t *a = *(grow_t *const *)pa, *b = *(grow_t *const *)pb;
    for (int c = 0; c < m->plan.n_aggs; c++) {
        if (m->plan.aggs[c] != PGR_AGG_NONE)
            continue;
        int r = value_cmp(NULL, m->rs.kinds[c], m->rs.formats[c], &a->vals[c], &b->vals[c]);
        if (r)
            return r;
    }
    /* equal groups in node order: min/max ties then go to the later node (merge.h) */
    return (a->node > b->node) - (a->node < b->node);
}

static bool
same_group(const pgr_merge_t *m, const grow_t *a, const grow_t *b)
{
    for (int c = 0; c < m->plan.n_aggs; c++)
        if (m->plan.aggs[c] == PGR_AGG_NONE &&
            value_cmp(NULL, m->rs.kinds[c], m->rs.formats[c], &a->vals[c], &b->vals[c]) != 0)
            return false;
    return true;
}

/* By the ORDER BY keys, in their collations and NULL placement. */
static int
order_cmp(const void *pa, const void *pb, void *arg)
{
    const pgr_merge_t *m = arg;
    const grow_t *a = *(grow_t *const *)pa, *b = *(grow_t *const *)pb;
    for (int j = 0; j < m->plan.n_keys; j++) {
        const pgr_sort_key_t *k = &m->plan.keys[j];
        int c = m->rs.cols[j];
        const pgr_value_t *va = &a->vals[c], *vb = &b->vals[c];
        int r;
        if (va->len < 0 || vb->len < 0) {
            if (va->len < 0 && vb->len < 0)
                r = 0;
            else
                r = (va->len < 0) == k->nulls_first ? -1 : 1;
        } else {
            r = value_cmp(&m->rs.kcolls[j], m->rs.kinds[c], m->rs.formats[c], va, vb);
            if (k->desc)
                r = -r;
        }
        if (r)
            return r;
    }
    return 0;
}

/* ---- combining ---------------------------------------------------------------------------- */

/* A DataRow body of ncols values. */
static uint8_t *
body_of(const pgr_value_t *v, int ncols, size_t *len)
{
    size_t n = 2;
    for (int c = 0; c < ncols; c++)
        n += 4 + (v[c].len > 0 ? (size_t)v[c].len : 0);
    uint8_t *p = malloc(n), *q = p;
    if (p == NULL)
        return NULL;
    *q++ = (uint8_t)(ncols >> 8);
    *q++ = (uint8_t)ncols;
    for (int c = 0; c < ncols; c++) {
        uint32_t l = (uint32_t)v[c].len;
        for (int b = 0; b < 4; b++)
            *q++ = (uint8_t)(l >> (24 - 8 * b));
        if (v[c].len > 0) {
            memcpy(q, v[c].data, (size_t)v[c].len);
            q += v[c].len;
        }
    }
    *len = n;
    return p;
}

/* The k rows from first on, one group, into *out; why[0] set when they cannot be combined. */
static int
combine(pgr_merge_t *m, grow_t **first, int k, grow_t **out, char *why, size_t cap)
{
    int ncols = m->rs.ncols, rc;
    pgr_merge_aggbuf_t b;
    uint8_t *body = NULL;
    size_t len = 0;
    if ((rc = pgr_merge_aggbuf_init(&b, k, ncols)) != 0)
        goto done;
    for (int r = 0; r < k; r++) {
        memcpy(b.vals + (size_t)r * (size_t)ncols, first[r]->vals,
               (size_t)ncols * sizeof(*b.vals));
        if (m->node_column && (r == 0 || first[r]->node != first[r - 1]->node))
            pgr_merge_sb_printf(&b.ids, "%s%s", r ? "," : "", m->nodes[first[r]->node].id);
    }
    for (int c = 0; c < ncols && rc == 0 && why[0] == '\0'; c++) {
        if (m->plan.aggs[c] == PGR_AGG_NONE)
            b.res[c] = b.vals[c]; /* the grouping value as the first node sent it */
        else
            rc = pgr_merge_agg_column(m, c, b.vals, k, ncols, &b.res[c], &b.owned[c],
                                      b.bin + 8 * c, why, cap);
    }
    if (rc || why[0])
        goto done;
    if (b.ids.oom || (body = body_of(b.res, ncols, &len)) == NULL) {
        rc = PGR_ENOMEM;
        goto done;
    }
    if ((*out = grow_new(ncols, body, len)) == NULL) {
        rc = PGR_ENOMEM;
        goto done;
    }
    (*out)->ids = b.ids.p;
    b.ids.p = NULL;
done:
    pgr_merge_aggbuf_free(&b);
    free(body);
    return rc;
}

/* Not merged after all: the rows as the nodes sent them, with the NOTICE. The nodes were
 * asked for every group, so OFFSET/LIMIT still apply. */
static void
fallback(pgr_merge_t *m, pgr_writer_t *out, const char *why)
{
    pgr_merge_groups_t *g = m->rs.groups;
    pgr_merge_plan_notice(m, out, why);
    for (size_t k = 0; k < g->n && !m->rs.limit_reached; k++)
        if (!m->nodes[g->rows[k]->node].failed && pgr_merge_admit(m))
            pgr_merge_write_row(m, out, m->nodes[g->rows[k]->node].id, g->rows[k]->body,
                                g->rows[k]->len);
}

int
pgr_merge_group_finish(pgr_merge_t *m, pgr_writer_t *out)
{
    pgr_merge_groups_t *g = m->rs.groups;
    grow_t **merged = NULL;
    size_t n = 0, k = 0;
    int rc = 0;
    char why[160] = "";

    if (g == NULL || g->n == 0)
        return 0;
    /* a failed node's groups are not part of the result (its rows count in SHOW) */
    for (size_t r = 0; r < g->n; r++) {
        if (m->nodes[g->rows[r]->node].failed)
            grow_free(g->rows[r]);
        else
            g->rows[k++] = g->rows[r];
    }
    g->n = k;
    if (g->n == 0)
        return 0;
    pgr_merge_colls_open(m);
    qsort_r(g->rows, g->n, sizeof(*g->rows), key_cmp, m);
    if ((merged = calloc(g->n, sizeof(*merged))) == NULL)
        return PGR_ENOMEM;
    for (size_t a = 0; a < g->n && rc == 0 && why[0] == '\0';) {
        size_t b = a + 1;
        while (b < g->n && same_group(m, g->rows[a], g->rows[b]))
            b++;
        rc = combine(m, g->rows + a, (int)(b - a), &merged[n], why, sizeof(why));
        n += rc == 0 && why[0] == '\0';
        a = b;
    }
    if (rc)
        goto done;
    if (why[0]) {
        fallback(m, out, why);
        goto done;
    }
    if (m->plan.n_keys > 0)
        qsort_r(merged, n, sizeof(*merged), order_cmp, m);
    for (size_t r = 0; r < n && !m->rs.limit_reached; r++)
        if (pgr_merge_admit(m))
            pgr_merge_write_row(m, out, merged[r]->ids ? merged[r]->ids : "", merged[r]->body,
                                merged[r]->len);
done:
    for (size_t r = 0; merged && r < n; r++)
        grow_free(merged[r]);
    free(merged);
    return rc;
}
