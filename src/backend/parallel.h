/* The library's own statements: one statement on a set of nodes at once (query, query_all,
 * query_healthy), each node over its default pool (or the pool of a given login: query_as) with
 * its own timeout; the per-node results are delivered together, failures included. A timed-out
 * statement is canceled on its node. Also login checks (check_login): a new connection made
 * with a given login and closed at once, its outcome delivered as a result. */
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

/* Who a run logs in as, instead of the cluster's default login and the node's own user and
 * password (copied; the password is wiped when the run ends). dbname NULL: the node's dbname.
 * check: run no statement (sql is ignored); open one new connection with this login, close it,
 * and deliver status 0 or its failure (PGR_ECONNECT / PGR_ETIMEDOUT and libpq's message). */
typedef struct pgr_parallel_login {
    const char *user, *dbname, *password;
    bool check;
} pgr_parallel_login_t;

/* pgr_parallel_run as login (NULL: the default login, as pgr_parallel_run). */
int pgr_parallel_run_as(struct pgr_cluster *c, struct pgr_node **nodes, size_t n,
                        const pgr_parallel_login_t *login, const char *sql, int n_params,
                        const char *const *params, int64_t timeout_ms, pgr_query_cb one_cb,
                        pgr_query_all_cb all_cb, void *arg) PGR_MUSTCHECK;

/* End every statement running on node with status now (cancel sent, connection closed). */
void pgr_parallel_abort_node(struct pgr_node *node, int status);

/* Our SQLSTATE for one of our status codes. */
const char *pgr_parallel_sqlstate(int status);

#endif
