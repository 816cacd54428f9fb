/* The classifier object and its cache (see classify.h): a result is looked up by the exact
 * text, then by the text's shape (route/sqlscan.h), and only then parsed (classify.c). */
#include <stddef.h>
#include <string.h>

#include "route/classify_int.h"

/* Scratch buffers above these sizes are released after use, so one huge query does not keep
 * its memory for the classifier's life. */
#define KEEP_TEXT_BYTES  (64 * 1024)
#define KEEP_STMTS       256

int
pgr_classifier_new(size_t cache_size, const char *const *write_functions, size_t n,
                   pgr_classifier_t **out)
{
    pgr_classifier_t *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (c == NULL)
        return PGR_ENOMEM;
    int rc = PGR_ENOMEM;
    c->cache_size = cache_size;
    if (pgr_qcache_new(cache_size, cache_size * PGR_CLASSIFY_BYTES_PER_ENTRY, &c->cache) != 0)
        goto fail;
    if (cache_size > 0 &&
        (c->shape_key = malloc(PGR_SQLSCAN_KEY_CAP(PGR_SQLSCAN_SHAPE_MAX))) == NULL)
        goto fail;
    rc = pgr_funcs_new(write_functions, n, &c->funcs);
    if (rc != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    pgr_classifier_free(c);
    return rc;
}

void
pgr_classifier_free(pgr_classifier_t *c)
{
    if (c == NULL)
        return;
    pgr_qcache_free(c->cache);
    pgr_funcs_free(c->funcs);
    free(c->scratch_stmts);
    free(c->text);
    free(c->shape_key);
    pgr_bigstack_free(c->stack);
    free(c);
}

void
pgr_classifier_set_max_bytes(pgr_classifier_t *c, size_t max_bytes)
{
    pgr_qcache_set_max_bytes(c->cache, max_bytes ? max_bytes
                                                 : c->cache_size * PGR_CLASSIFY_BYTES_PER_ENTRY);
}

void
pgr_classifier_stats(const pgr_classifier_t *c, pgr_classify_stats_t *st)
{
    pgr_qcache_stats_t q;
    pgr_qcache_stats(c->cache, &q);
    memset(st, 0, sizeof(*st));
    st->hits = q.hits;
    st->misses = q.misses;
    st->evictions = q.evictions;
    st->uncached = c->uncached;
    st->entries = q.entries;
    st->bytes = q.bytes;
    st->max_entries = q.max_entries;
    st->max_bytes = q.max_bytes;
}

/* ---- shapes ------------------------------------------------------------------------------------
 *
 * A shape's entry is one of:
 *
 *   literal-free   the result of the first text parsed with this shape, valid for every text
 *                  of the shape once its statement's offset and length (which move with the
 *                  constants' lengths) are set from the scan;
 *   not            the shape's results may depend on constants: look up the exact text.
 *
 * The verdict comes from the parse of the first text (classify_stmt.c,
 * pgr_classify_shape_free). */

typedef struct shape_entry {
    bool literal_free;
    pgr_classification_t r;    /* when literal_free; its one statement follows the entry */
} shape_entry_t;

/* Keep the result in c->scratch under the shape key: literal_free, or not (then the caller
 * keeps it under the exact text too). Returns the cached result, or NULL when not kept. */
static const pgr_classification_t *
put_shape(pgr_classifier_t *c, const pgr_sqlshape_t *shape, uint64_t hash, bool literal_free)
{
    size_t vsize = literal_free ? sizeof(shape_entry_t) + sizeof(pgr_stmt_info_t)
                                : offsetof(shape_entry_t, r);
    shape_entry_t *e = pgr_qcache_put(c->cache, c->shape_key, shape->key_len, hash, vsize);
    if (e == NULL || !literal_free)
        return NULL;
    e->literal_free = true;
    e->r = c->scratch;
    e->r.stmts = (pgr_stmt_info_t *)(e + 1);
    e->r.stmts[0] = c->scratch_stmts[0];
    return &e->r;
}

int
pgr_classify(pgr_classifier_t *c, const char *sql, size_t len, const pgr_classification_t **out)
{
    *out = NULL;
    /* The previous result may live in the scratch space: only now may it go. */
    if (c->text_cap > KEEP_TEXT_BYTES) {
        free(c->text);
        c->text = NULL;
        c->text_cap = 0;
    }
    if (c->scratch_cap > KEEP_STMTS) {
        free(c->scratch_stmts);
        c->scratch_stmts = NULL;
        c->scratch_cap = 0;
    }
    /* The exact text first (a repeated statement: one hash and one lookup), then the shape (a
     * statement seen before with other constants: a scan and one more lookup). Shape keys
     * start with a zero byte; a text that does too is never cached (it does not parse
     * anyway), so the two kinds of key cannot meet. */
    bool keyable = len == 0 || sql[0] != '\0';
    uint64_t h = 0;
    if (keyable) {
        h = pgr_qcache_hash(c->cache, sql, len);
        const pgr_classification_t *hit = pgr_qcache_peek(c->cache, sql, len, h);
        if (hit != NULL) {
            pgr_qcache_count(c->cache, true);
            *out = hit;
            return 0;
        }
    }
    pgr_sqlshape_t shape;
    uint64_t shape_hash = 0;
    bool shaped = c->shape_key != NULL && pgr_sqlscan_shape(sql, len, c->shape_key, &shape);
    if (shaped) {
        shape_hash = pgr_qcache_hash(c->cache, c->shape_key, shape.key_len);
        shape_entry_t *e = pgr_qcache_peek(c->cache, c->shape_key, shape.key_len, shape_hash);
        if (e != NULL && e->literal_free) {
            pgr_qcache_count(c->cache, true);
            e->r.stmts[0].text_offset = shape.stmt_offset;
            e->r.stmts[0].text_length = shape.stmt_length;
            *out = &e->r;
            return 0;
        }
        if (e != NULL)
            shaped = false;     /* known: by the exact text */
    }
    pgr_qcache_count(c->cache, false);
    c->shape_pending = shaped ? &shape : NULL;
    c->shape_free = false;
    int rc = pgr_classify_parse(c, sql, len);
    c->shape_pending = NULL;
    if (rc != 0)
        return rc;
    if (shaped) {
        const pgr_classification_t *kept = put_shape(c, &shape, shape_hash, c->shape_free);
        if (kept != NULL) {
            *out = kept;
            return 0;
        }
    }
    size_t n = (size_t)c->scratch.n_stmts;
    pgr_classification_t *r = keyable ? pgr_qcache_put(c->cache, sql, len, h,
                                                       sizeof(*r) + n * sizeof(pgr_stmt_info_t))
                                      : NULL;
    if (r == NULL) {
        c->uncached++;
        *out = &c->scratch;
        return 0;
    }
    *r = c->scratch;
    r->stmts = n ? (pgr_stmt_info_t *)(r + 1) : NULL;
    if (n)
        memcpy(r->stmts, c->scratch_stmts, n * sizeof(pgr_stmt_info_t));
    *out = r;
    return 0;
}
