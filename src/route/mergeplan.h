/* The broadcast merge plan: how the rows of one SELECT run on N nodes combine into the result
 * one PostgreSQL would give for the union of their data. The classifier fills it from the parse
 * tree (route/classify); the merge engine (fanout/merge) carries it out. Plain data, no code. */
#ifndef PGR_ROUTE_MERGEPLAN_H
#define PGR_ROUTE_MERGEPLAN_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { PGR_AGG_NONE, PGR_AGG_COUNT, PGR_AGG_SUM, PGR_AGG_MIN, PGR_AGG_MAX } pgr_agg_t;

/* Identifiers are at most 63 bytes in PostgreSQL (NAMEDATALEN 64). */
#define PGR_SORT_NAME_MAX 64

/* One ORDER BY key on an output column: by position (column: 0-based, not counting the
 * optional node column), or by name (column -1, name set) when the position is only known
 * once the RowDescription arrives (SELECT * ... ORDER BY id): the merge then takes the one
 * field of that name, and concatenates (with a NOTICE) when there is none or several.
 * PostgreSQL's default NULL placement is NULLS LAST for ASC and NULLS FIRST for DESC: the
 * filler must set nulls_first explicitly. collation: the collation the key sorts in when the
 * statement names one (ORDER BY x COLLATE "C", or a select-list item x COLLATE "C" the key
 * refers to): its name as written, "schema.name" when qualified by another schema than
 * pg_catalog; "" for the column's own, which the merge takes to be the database's default. */
typedef struct {
    int column;
    bool desc;
    bool nulls_first;
    char name[PGR_SORT_NAME_MAX];
    char collation[PGR_SORT_NAME_MAX];
} pgr_sort_key_t;

#define PGR_MERGE_MAX_KEYS 8
#define PGR_MERGE_MAX_AGGS 64

typedef struct pgr_merge_plan {
    int n_keys;                           /* ORDER BY on output columns; 0: concatenate */
    pgr_sort_key_t keys[PGR_MERGE_MAX_KEYS];
    /* LIMIT n OFFSET m of the whole result; -1: none. The nodes must each be sent LIMIT n+m
     * and no OFFSET: the merge skips m rows of the merged stream and stops after n. */
    int64_t limit, offset;
    bool aggregate;                       /* one row of plain aggregates, no GROUP BY */
    /* GROUP BY: each node's rows are its groups. Rows of all nodes whose NONE columns are
     * equal (the grouping columns; datum.h's equality, NULL equal to NULL) become one row,
     * the other columns combined by their aggs; then the ORDER BY keys (output columns) and
     * LIMIT/OFFSET apply to the merged groups. The nodes must run it without LIMIT and
     * OFFSET (the classifier's rewritten statement). */
    bool group;
    int n_aggs;                           /* per output column when aggregate or group (must */
    pgr_agg_t aggs[PGR_MERGE_MAX_AGGS];   /* equal the column count); NONE: a column equal on
                                           * all nodes (aggregate), a grouping column (group) */
    /* Non-NULL (static text, e.g. "GROUP BY"): the rows are concatenated and one NOTICE says
     * why the result is not merged. The other fields are then ignored. */
    const char *unsupported;
    /* The statement is one query with a top-level ORDER BY: its rows' order is part of its
     * result (set whatever else the plan says). */
    bool ordered;
    /* Verify mode (SET pgrouter.broadcast = 'verify', set by the session, not the
     * classifier): no merge; every result set becomes one row per node (node, rows, hash),
     * the hash in row order when ordered, else independent of it. Every other field but
     * ordered is then ignored. */
    bool verify;
} pgr_merge_plan_t;

#endif
