/* The aggregate merge of a broadcast result set: count/sum/min/max over the one row each node
 * returns, combined column by column (pgr_merge_agg_column, which merge_group.c uses for each
 * group too), or the rows as sent, with a NOTICE, when they cannot be combined. See merge.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/merge_int.h"
#include "fanout/numeric.h"

int
pgr_merge_aggbuf_init(pgr_merge_aggbuf_t *b, int k, int ncols)
{
    *b = (pgr_merge_aggbuf_t){ .ncols = ncols };
    b->vals = calloc((size_t)k * (size_t)ncols + 1, sizeof(*b->vals));
    b->res = calloc((size_t)ncols + 2, sizeof(*b->res));
    b->owned = calloc((size_t)ncols + 1, sizeof(*b->owned));
    b->bin = calloc((size_t)ncols + 1, 8);
    if (b->vals == NULL || b->res == NULL || b->owned == NULL || b->bin == NULL)
        return PGR_ENOMEM;
    return 0;
}

void
pgr_merge_aggbuf_free(pgr_merge_aggbuf_t *b)
{
    for (int c = 0; b->owned && c < b->ncols; c++)
        free(b->owned[c]);
    free(b->owned);
    free(b->vals);
    free(b->res);
    free(b->bin);
    free(b->ids.p);
    *b = (pgr_merge_aggbuf_t){ 0 };
}

void
pgr_merge_agg_fallback(pgr_merge_t *m, pgr_writer_t *out, const char *why)
{
    pgr_merge_plan_notice(m, out, why);
    m->rs.mode = RS_CONCAT;
    m->rs.limit = -1;
    m->rs.offset = 0;
    m->rs.limit_reached = false;
    for (int j = 0; j < m->n; j++) {
        mnode_t *nd = &m->nodes[j];
        if (!nd->failed && nd->head.held && pgr_merge_admit(m))
            pgr_merge_write_row(m, out, nd->id, nd->head.p, nd->head.len);
        pgr_merge_row_drop(&nd->head);
    }
}

static bool
int8_value(const pgr_value_t *v, int16_t format, int64_t *x)
{
    if (format == 1) {
        if (v->len != 8)
            return false;
        *x = (int64_t)((uint64_t)pgr_be32(v->data) << 32 | pgr_be32(v->data + 4));
        return true;
    }
    char buf[32];
    if (v->len <= 0 || (size_t)v->len >= sizeof(buf) ||
        !pgr_datum_dec_is_int8((const char *)v->data, (size_t)v->len))
        return false;
    memcpy(buf, v->data, (size_t)v->len);
    buf[v->len] = '\0';
    *x = strtoll(buf, NULL, 10);
    return true;
}

/* sum of binary numeric column c of the k rows in vals (NULLs skipped; all NULL: NULL), as
 * PostgreSQL would send it (numeric.h). *owned holds what res points at. */
static int
numeric_bin_sum(const pgr_value_t *vals, int k, int ncols, int c, pgr_value_t *res, char **owned,
                char *why, size_t cap)
{
    static const uint8_t zero[8] = {0}; /* 0 with dscale 0: the first addend's dscale stays */
    uint8_t *acc = NULL;
    size_t acclen = 0;
    for (int r = 0; r < k; r++) {
        const pgr_value_t *v = &vals[r * ncols + c];
        uint8_t *sum;
        size_t sumlen;
        if (v->len < 0)
            continue;
        int rc = pgr_numeric_add(acc ? acc : zero, acc ? acclen : sizeof(zero), v->data,
                                 (size_t)v->len, &sum, &sumlen);
        free(acc);
        acc = NULL;
        if (rc == PGR_EINVAL)
            snprintf(why, cap, "column %d is not a binary numeric, or its sum overflows", c + 1);
        if (rc)
            return rc == PGR_EINVAL ? 0 : rc;
        acc = sum;
        acclen = sumlen;
    }
    *owned = (char *)acc;
    if (acc)
        *res = (pgr_value_t){acc, (int32_t)acclen};
    return 0;
}

int
pgr_merge_agg_column(pgr_merge_t *m, int c, const pgr_value_t *vals, int k, int ncols,
                     pgr_value_t *res, char **owned, uint8_t *bin8, char *why, size_t cap)
{
    pgr_agg_t agg = m->plan.aggs[c];
    int16_t fmt = m->rs.formats[c];
    *res = (pgr_value_t){NULL, -1};
    switch (agg) {
    case PGR_AGG_NONE:
        for (int r = 1; r < k; r++) {
            const pgr_value_t *a = &vals[c], *b = &vals[r * ncols + c];
            if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, (size_t)a->len))) {
                snprintf(why, cap, "column %d differs between nodes", c + 1);
                return 0;
            }
        }
        *res = vals[c];
        return 0;
    case PGR_AGG_COUNT:
    case PGR_AGG_SUM:
        if (m->rs.oids[c] == PGR_OID_INT8) {
            int64_t acc = 0, x;
            bool any = false;
            for (int r = 0; r < k; r++) {
                const pgr_value_t *v = &vals[r * ncols + c];
                if (v->len < 0) {
                    if (agg == PGR_AGG_COUNT) {
                        snprintf(why, cap, "count column %d is NULL", c + 1);
                        return 0;
                    }
                    continue;
                }
                if (!int8_value(v, fmt, &x)) {
                    snprintf(why, cap, "column %d is not an int8", c + 1);
                    return 0;
                }
                if (__builtin_add_overflow(acc, x, &acc)) {
                    snprintf(why, cap, "the sum of column %d overflows int8", c + 1);
                    return 0;
                }
                any = true;
            }
            if (!any)
                return 0;
            if (fmt == 1) {
                uint64_t u = (uint64_t)acc;
                for (int b = 0; b < 8; b++)
                    bin8[b] = (uint8_t)(u >> (56 - 8 * b));
                *res = (pgr_value_t){bin8, 8};
                return 0;
            }
            if ((*owned = malloc(24)) == NULL)
                return PGR_ENOMEM;
            int n = snprintf(*owned, 24, "%lld", (long long)acc);
            *res = (pgr_value_t){(const uint8_t *)*owned, n};
            return 0;
        } else if (fmt == 1) {
            return numeric_bin_sum(vals, k, ncols, c, res, owned, why, cap);
        } else {
            char *acc = NULL;
            for (int r = 0; r < k; r++) {
                const pgr_value_t *v = &vals[r * ncols + c];
                char *sum;
                if (v->len < 0)
                    continue;
                int rc = pgr_datum_dec_add(acc ? acc : "0", acc ? strlen(acc) : 1,
                                           (const char *)v->data, (size_t)v->len, &sum);
                if (rc == PGR_EINVAL)
                    snprintf(why, cap, "column %d is not a number", c + 1);
                if (rc) {
                    free(acc);
                    return rc == PGR_EINVAL ? 0 : rc;
                }
                free(acc);
                acc = sum;
            }
            *owned = acc;
            if (acc)
                *res = (pgr_value_t){(const uint8_t *)acc, (int32_t)strlen(acc)};
            return 0;
        }
    case PGR_AGG_MIN:
    case PGR_AGG_MAX: {
        int best = -1;
        for (int r = 0; r < k; r++) {
            const pgr_value_t *v = &vals[r * ncols + c], *b;
            int cmp;
            if (v->len < 0)
                continue;
            if (best < 0) {
                best = r;
                continue;
            }
            b = &vals[best * ncols + c];
            if (pgr_datum_compare_coll(&m->rs.colls[c], m->rs.kinds[c], fmt, v->data,
                                       (size_t)v->len, b->data,
                                  (size_t)b->len, &cmp) != 0) {
                snprintf(why, cap, "values of column %d cannot be compared as type OID %u", c + 1,
                         (unsigned)m->rs.oids[c]);
                return 0;
            }
            /* Ties go to the later node, as PostgreSQL's min/max transition functions
             * (numeric_smaller, float8larger, ...) keep the later of two equal values: 0.00
             * and 0.000 are equal numerics, and the union of the nodes' rows in node order
             * then gives the same bytes. */
            if (agg == PGR_AGG_MIN ? cmp <= 0 : cmp >= 0)
                best = r;
        }
        if (best >= 0)
            *res = vals[best * ncols + c];
        return 0;
    }
    }
    return 0;
}

int
pgr_merge_agg_finish(pgr_merge_t *m, pgr_writer_t *out)
{
    int ncols = m->rs.ncols, k = 0, live = 0, rc = 0;
    char why[160] = "";
    if (ncols < 0)
        return 0; /* no node returned a row */
    for (int j = 0; j < m->n; j++)
        if (!m->nodes[j].failed) {
            live++;
            k += m->nodes[j].head.held;
        }
    if (k == 0)
        return 0;
    if (k < live) {
        pgr_merge_agg_fallback(m, out, "a node returned no row");
        return 0;
    }
    pgr_merge_colls_open(m);
    pgr_merge_aggbuf_t b;
    if ((rc = pgr_merge_aggbuf_init(&b, k, ncols)) != 0)
        goto done;
    int r = 0;
    for (int j = 0; j < m->n; j++) {
        mnode_t *nd = &m->nodes[j];
        pgr_be_datarow_t d;
        pgr_value_iter_t it;
        if (nd->failed || !nd->head.held)
            continue;
        if (pgr_be_datarow_decode(nd->head.p, nd->head.len, &d) != 0) {
            rc = PGR_EPROTO;
            goto done;
        }
        pgr_be_datarow_iter(&d, &it);
        for (int c = 0; c < ncols && pgr_value_next(&it, &b.vals[r * ncols + c]); c++)
            ;
        pgr_merge_sb_printf(&b.ids, "%s%s", r ? "," : "", nd->id);
        r++;
    }
    for (int c = 0; c < ncols && why[0] == '\0' && rc == 0; c++)
        rc = pgr_merge_agg_column(m, c, b.vals, k, ncols, &b.res[c + 1], &b.owned[c],
                                  b.bin + 8 * c, why, sizeof(why));
    if (rc == 0 && b.ids.oom)
        rc = PGR_ENOMEM;
    if (rc)
        goto done;
    if (why[0]) {
        pgr_merge_agg_fallback(m, out, why);
        goto done;
    }
    if (pgr_merge_admit(m)) {
        pgr_merge_flush_warnings(m, out);
        b.res[0] = (pgr_value_t){(const uint8_t *)b.ids.p, (int32_t)b.ids.len};
        if (m->node_column)
            (void)pgr_be_write_datarow(out, ncols + 1, b.res);
        else
            (void)pgr_be_write_datarow(out, ncols, b.res + 1);
    }
done:
    pgr_merge_aggbuf_free(&b);
    return rc;
}
