/* Inside the classifier, shared by its files and by no other module: classify_cache.c (the
 * classifier object and its cache, by exact text and by shape) and the files that parse with
 * libpg_query (classify_pgq.h names them). */
#ifndef PGR_ROUTE_CLASSIFY_INT_H
#define PGR_ROUTE_CLASSIFY_INT_H

#include "route/bigstack.h"
#include "route/classify.h"
#include "route/funcs.h"
#include "route/qcache.h"
#include "route/sqlscan.h"

struct pgr_classifier {
    pgr_qcache_t *cache;
    size_t cache_size;
    pgr_funcs_t *funcs;         /* the configured write functions */
    uint64_t uncached;
    /* Scratch space for one result that is not cached, and for building one that will be:
     * valid until the next pgr_classify. */
    pgr_classification_t scratch;
    pgr_stmt_info_t *scratch_stmts;
    size_t scratch_cap;
    pgr_bigstack_t *stack;      /* for long statements, made on first need */
    char *text;                 /* NUL-terminated copy of the query for the parser */
    size_t text_cap;
    char *shape_key;            /* PGR_SQLSCAN_KEY_CAP(PGR_SQLSCAN_SHAPE_MAX) bytes, with a cache */
    /* During a parse whose text has a shape not yet in the cache: that shape, and the
     * parse's verdict on whether the result holds for every text of the shape. */
    const pgr_sqlshape_t *shape_pending;
    bool shape_free;
    size_t depth;               /* the last parsed text's depth bound (sqlscan.h) */
};

/* Parse and classify sql[0..len) into c->scratch (its statements in c->scratch_stmts). When
 * c->shape_pending is set, also sets c->shape_free: whether the result holds for every text of
 * that shape. Returns 0 (parse errors included), PGR_ENOMEM, or PGR_ESHUTDOWN after
 * pgr_classify_shutdown on this thread. */
int pgr_classify_parse(pgr_classifier_t *c, const char *sql, size_t len) PGR_MUSTCHECK;

#endif
