/* Inside the classifier, for its files that read libpg_query's parse tree and by no other
 * module: classify.c (the parse of the whole string), classify_stmt.c (one statement's class),
 * classify_tree.c (tree helpers), classify_plan.c and classify_order.c (the merge plan). This
 * header brings in pg_query.h: every file that includes it is one of the library's users. */
#ifndef PGR_ROUTE_CLASSIFY_PGQ_H
#define PGR_ROUTE_CLASSIFY_PGQ_H

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "route/classify_int.h"

/* classify_stmt.c. Class statement n into st (zeroed by the caller, limit and offset -1). */
void pgr_classify_stmt(const pgr_classifier_t *c, pgr_stmt_info_t *st, const PgQuery__Node *n);
/* Does the result in c->scratch, parsed from tree, hold for every text of the shape? */
bool pgr_classify_shape_free(const pgr_classifier_t *c, const PgQuery__ParseResult *tree,
                             const pgr_sqlshape_t *shape);

/* classify_tree.c. A String node's text (an item of a name list), NULL if n is not one. */
const char *pgr_classify_str(const PgQuery__Node *n);
/* Is val a star (* or q.*) of a select list? */
bool pgr_classify_is_star(const PgQuery__Node *val);
/* n as a select-list target, NULL if it is not one. */
const PgQuery__ResTarget *pgr_classify_res_target(const PgQuery__Node *n);
/* Structural equality of two parse trees, ignoring every "location" field: two expressions
 * that read the same (up to spacing and comments) in the same SELECT. */
bool pgr_classify_tree_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);
/* The output name of a target: its alias, or the name PostgreSQL figures; NULL for none. */
const char *pgr_classify_target_name(const PgQuery__ResTarget *rt);

/* classify_order.c. The ORDER BY keys of a top-level SELECT into plan->keys (or
 * plan->unsupported set). */
void pgr_classify_plan_order(const PgQuery__SelectStmt *s, pgr_merge_plan_t *plan);

#endif
