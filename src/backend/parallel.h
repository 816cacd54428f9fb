/* The library's own statements: one statement on a set of nodes at once (query, query_all,
 * query_healthy), each node over its default pool with its own timeout; the per-node results
 * are delivered together, failures included. A timed-out statement is canceled on its node. */
#ifndef PGR_BACKEND_PARALLEL_H
#define PGR_BACKEND_PARALLEL_H

#include "core/base.h"
#include "pgrouter/cluster.h"

struct pgr_node;
struct pgr_cluster;

/* Run sql on nodes[0..n) (n >= 1). Exactly one of one_cb (n must be 1) and all_cb is set; it runs
 * once, from a later loop iteration. timeout_ms < 0: none. */
int pgr_parallel_run(struct pgr_cluster *c, struct pgr_node **nodes, size_t n, const char *sql,
                     int n_params, const char *const *params, int64_t timeout_ms,
                     pgr_query_cb one_cb, pgr_query_all_cb all_cb, void *arg) PGR_MUSTCHECK;

/* End every statement running on node with status now (cancel sent, connection closed). */
void pgr_parallel_abort_node(struct pgr_node *node, int status);

/* Our SQLSTATE for one of our status codes. */
const char *pgr_parallel_sqlstate(int status);

#endif
