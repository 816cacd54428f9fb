/* Inside the merge engine: the state merge.c (lockstep, failures, the end), merge_rows.c
 * (result sets), merge_agg.c (aggregates), merge_group.c (GROUP BY) and merge_verify.c
 * (verify mode) share. Nothing here is for other modules. */
#ifndef PGR_FANOUT_MERGE_INT_H
#define PGR_FANOUT_MERGE_INT_H

#include "fanout/datum.h"
#include "fanout/merge.h"
#include "protocol/backend.h"
#include "protocol/tag.h"

typedef enum { U_NONE, U_SINGLE, U_ROWDESC, U_ROWS, U_END } unit_kind_t;
typedef enum { RS_CONCAT, RS_ORDERED, RS_AGG, RS_VERIFY, RS_GROUP } rs_mode_t;

typedef struct pgr_merge_groups pgr_merge_groups_t; /* merge_group.c */

/* A copied DataRow body. key[j] points at sort key j's value inside p (valid while held). */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool held;
    pgr_value_t key[PGR_MERGE_MAX_KEYS];
} row_t;

typedef struct {
    char *id, *addr;
    bool failed;       /* out of the batch: nothing more of it reaches the client */
    bool ready;        /* its ReadyForQuery arrived */
    bool broken;       /* no ReadyForQuery will come in order (the caller closes it) */
    bool warn_pending; /* WARN: its WARNING not yet sent */
    bool suspended;    /* ended the current result set with PortalSuspended */
    uint8_t status;    /* ReadyForQuery status when ready */
    uint32_t pos;      /* units completed; cur or cur + 1 while live */
    uint64_t rows;     /* DataRows received */
    row_t head;        /* ordered merge: its next row; aggregate: its one row */
    char *dbcoll;      /* its database's default collation (pgr_merge_node_collation) */
    char dbprov;       /* and its provider ('c', 'i'); 0: not known */
    char *sqlstate, *message, *detail; /* the failure */
    uint8_t *err;      /* its own ErrorResponse body, for "every node failed the same way" */
    size_t err_len;
    uint64_t vrd;      /* verify: hash of its RowDescription for the result set (0: none) */
    uint64_t vhash;    /* verify: its rows' hash so far */
    uint64_t vrows;    /* verify: its rows in the result set */
} mnode_t;

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} pgr_merge_sb_t;

struct pgr_merge {
    pgr_merge_plan_t plan;
    bool has_plan;
    bool verify;          /* plan.verify: every result set is verified (merge_verify.c) */
    char *unsupported;
    pgr_merge_policy_t policy;
    bool node_column;
    int n;
    mnode_t *nodes;
    int *fail_order;      /* failed nodes in the order they failed */
    int n_failed;

    uint32_t cur;         /* the unit every live node is at (or has just completed) */
    unit_kind_t unit;     /* its kind, set by the first message of it (U_NONE: none yet) */
    int unit_node;        /* the node that sent that message */
    uint8_t single;       /* U_SINGLE: the message type */
    uint8_t *single_body; /* U_SINGLE 't': the first ParameterDescription, to compare */
    size_t single_len;

    uint8_t *rd;          /* the batch's last RowDescription (first node's, as sent) */
    size_t rd_len;
    int rd_node;
    bool rd_seen;
    bool rd_fresh;        /* verify: a RowDescription came since the last result set */

    struct {              /* the current result set (unit U_ROWS) */
        rs_mode_t mode;
        bool target;      /* the plan's result set */
        int ncols;        /* of its rows; -1 before the first */
        bool any_rows;
        int64_t limit;    /* -1: none */
        uint64_t offset, emitted, skipped;
        bool limit_reached;
        bool have_tag;
        pgr_tag_t tag;    /* the sum so far; text borrows tag_text */
        char *tag_text;
        int cols[PGR_MERGE_MAX_KEYS];               /* ORDERED, GROUP: each key's column */
        pgr_datum_kind_t kinds[PGR_MERGE_MAX_AGGS]; /* ORDERED: per key; AGG, GROUP: per
                                                     * column */
        int16_t formats[PGR_MERGE_MAX_AGGS];
        int32_t oids[PGR_MERGE_MAX_AGGS];
        row_t last;       /* ORDERED: the last row merged */
        bool colls_open;  /* colls set (at the first comparison: every node's collation known) */
        pgr_coll_t colls[PGR_MERGE_MAX_AGGS]; /* ORDERED: per key; AGG, GROUP: per column */
        pgr_coll_t kcolls[PGR_MERGE_MAX_KEYS]; /* GROUP: per ORDER BY key */
        pgr_merge_groups_t *groups;            /* GROUP: the rows held */
    } rs;
    size_t merge_memory;  /* GROUP: the most the rows held may take (pgr_merge_set_memory) */
    char *abort_state, *abort_msg, *abort_hint; /* the engine's own ERROR (pgr_merge_abort) */
    bool plan_used, plan_noticed, order_warned, halted, done;
    struct { char *s; size_t len; } *params; /* ParameterStatus sent: "name\0value" */
    int n_params, cap_params;
};

void pgr_merge_sb_printf(pgr_merge_sb_t *b, const char *fmt, ...) PGR_PRINTF(2, 3);

/* Fails node i (first failure wins; broken also marks it finished for good). err: its own
 * ErrorResponse body or NULL. 0 or PGR_ENOMEM (the node is failed either way). */
int pgr_merge_node_fail(pgr_merge_t *m, int i, const char *sqlstate, const char *message,
                        const char *detail, const uint8_t *err, size_t err_len, bool broken);
/* Fails node i with 42804 for replying differently; stays in sync. */
int pgr_merge_node_differs(pgr_merge_t *m, int i, const char *fmt, ...) PGR_PRINTF(3, 4);
void pgr_merge_flush_warnings(pgr_merge_t *m, pgr_writer_t *out);
/* The merge itself cannot go on (a limit): nothing more of the batch reaches the client but
 * ParameterStatus; the nodes are read to their ReadyForQuery; at the end the client gets this
 * ErrorResponse (after the WARNINGs of failed nodes). 0 or PGR_ENOMEM. */
int pgr_merge_abort(pgr_merge_t *m, const char *sqlstate, const char *message, const char *hint);

/* merge_rows.c */
void pgr_merge_rs_reset(pgr_merge_t *m);
void pgr_merge_row_drop(row_t *r);
int pgr_merge_rowdesc_first(pgr_merge_t *m, int i, const uint8_t *body, size_t len,
                            pgr_writer_t *out);
int pgr_merge_rowdesc_check(pgr_merge_t *m, int i, const uint8_t *body, size_t len);
/* A DataRow, CommandComplete or PortalSuspended of live node i; first: it opens the unit. */
int pgr_merge_rows_msg(pgr_merge_t *m, int i, bool first, uint8_t type, const uint8_t *body,
                       size_t len, pgr_writer_t *out);
/* The collations the result set's comparisons use, once (before the first comparison). */
void pgr_merge_colls_open(pgr_merge_t *m);
/* Ordered merge: send every row that can be placed now. */
int pgr_merge_rows_pump(pgr_merge_t *m, pgr_writer_t *out);
/* Every live node completed the result set: the last rows, then its tag. */
int pgr_merge_rows_finish(pgr_merge_t *m, pgr_writer_t *out);
/* Shared with merge_group.c. */
bool pgr_merge_admit(pgr_merge_t *m);
void pgr_merge_write_row(pgr_merge_t *m, pgr_writer_t *out, const char *nodeval,
                         const uint8_t *body, size_t len);
void pgr_merge_plan_notice(pgr_merge_t *m, pgr_writer_t *out, const char *why);
void pgr_merge_coll_for(const pgr_merge_t *m, pgr_coll_t *c, pgr_datum_kind_t kind,
                        const char *explicit_name);

/* merge_agg.c: the aggregate merge (one row per node), and combining rows column by column,
 * which merge_group.c does for each group. */
void pgr_merge_agg_fallback(pgr_merge_t *m, pgr_writer_t *out, const char *why);
int pgr_merge_agg_finish(pgr_merge_t *m, pgr_writer_t *out);
/* What combining k rows of ncols columns takes: vals (the k rows, row-major), res (ncols + 1
 * values: the combined row, with room for the node column in front), owned and bin (8 bytes a
 * column: what res points at), ids (the nodes whose rows were combined). Init allocates it all
 * (0 or PGR_ENOMEM); free it whatever init returned. */
typedef struct {
    int ncols;
    pgr_value_t *vals, *res;
    char **owned;
    uint8_t *bin;
    pgr_merge_sb_t ids;
} pgr_merge_aggbuf_t;
int pgr_merge_aggbuf_init(pgr_merge_aggbuf_t *b, int k, int ncols) PGR_MUSTCHECK;
void pgr_merge_aggbuf_free(pgr_merge_aggbuf_t *b);
/* Column c of the k rows in vals (row-major, ncols wide) combined by its aggregate into *res.
 * 0 with why[0] set when it cannot be combined; PGR_ENOMEM. *owned / bin8 (8 bytes) hold what
 * res points at. */
int pgr_merge_agg_column(pgr_merge_t *m, int c, const pgr_value_t *vals, int k, int ncols,
                         pgr_value_t *res, char **owned, uint8_t *bin8, char *why, size_t cap);

/* merge_group.c: GROUP BY. A DataRow of node i (d: its decoded form) is held; at the end the
 * groups are combined, sorted and sent. */
int pgr_merge_group_row(pgr_merge_t *m, int i, const uint8_t *body, size_t len,
                        const pgr_be_datarow_t *d);
int pgr_merge_group_finish(pgr_merge_t *m, pgr_writer_t *out);
void pgr_merge_group_free(pgr_merge_groups_t *g);

/* merge_verify.c. Node i's RowDescription (first: the unit's first, and the client gets the
 * verify RowDescription: node text, rows int8, hash text, all in text format). */
int pgr_merge_verify_rowdesc(pgr_merge_t *m, int i, bool first, const uint8_t *body, size_t len,
                             pgr_writer_t *out);
/* A result set starts in verify mode: every node's count and hash from zero. */
void pgr_merge_verify_start(pgr_merge_t *m);
void pgr_merge_verify_row(pgr_merge_t *m, int i, const uint8_t *body, size_t len);
/* Every live node completed it: the disagreement WARNING if any, one row per live node, and
 * "SELECT n". */
int pgr_merge_verify_finish(pgr_merge_t *m, pgr_writer_t *out);

#endif
