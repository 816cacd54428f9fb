/* What a configuration reload changes: the difference between the running snapshot and a newly
 * loaded one, as a list of node actions and the parts of the runtime to refresh. Pure: compares
 * two snapshots, touches nothing; the ops layer (ops/reload.c) carries the plan out.
 *
 * Nodes are matched by id. A node only in the new snapshot is added; one only in the old is
 * removed (drained like REMOVE NODE). A node whose connection settings changed (host, port,
 * dbname, user, password, ssl, its pool and health blocks) is replaced: removed, then added
 * again once its drain is over. A change of weight or role alone is applied in place.
 *
 * Settings read at the moment they are used (auth users and method, admin users, broadcast,
 * routing read_your_writes, limits.login_timeout, shutdown, peers, pool.query_timeout and
 * pool.idle_transaction_timeout) take effect for what happens after the swap. Some parts are
 * rebuilt: the router's policy (routing.reads, balance, max_replica_lag), the classifier
 * (write_functions, classify_cache_size), the logger (log.*). What is bound when the process
 * starts — the listening sockets and their TLS (this instance's own peers entry is one),
 * instance.id (in every cancel key given out), admin.http, the
 * global pool (mode and defaults) and health settings (health.user/password/dbname too) —
 * keeps its old value: the plan names it so the operator is told a restart is needed, and
 * pgr_reload_keep copies the old values into the new snapshot, so that it tells the truth about
 * what runs. */
#ifndef PGR_CORE_RELOAD_H
#define PGR_CORE_RELOAD_H

#include "core/base.h"
#include "pgrouter/config.h"

typedef enum {
    PGR_RELOAD_ADD,     /* node: the new snapshot's */
    PGR_RELOAD_REMOVE,  /* node: the old snapshot's */
    PGR_RELOAD_REPLACE, /* node: the new snapshot's (remove the old one of that id first) */
    PGR_RELOAD_WEIGHT,  /* node: the new snapshot's weight */
    PGR_RELOAD_ROLE,    /* node: the new snapshot's role */
} pgr_reload_op_t;

typedef struct pgr_reload_action {
    pgr_reload_op_t op;
    const pgr_node_config_t *node; /* points into one of the two snapshots */
} pgr_reload_action_t;

#define PGR_RELOAD_MAX_RESTART 10

typedef struct pgr_reload_plan {
    pgr_reload_action_t *actions; /* removals first, then replacements, changes and additions */
    size_t n_actions;
    bool router;     /* routing.reads / balance / max_replica_lag changed */
    bool classifier; /* routing.write_functions / classify_cache_size changed */
    bool log;        /* log.* changed */
    const char *restart[PGR_RELOAD_MAX_RESTART]; /* static names of settings kept until restart */
    size_t n_restart;
} pgr_reload_plan_t;

/* Compare old and new; *out is filled (free with pgr_reload_plan_free). 0 or PGR_ENOMEM. */
int pgr_reload_diff(const pgr_config_t *old, const pgr_config_t *new, pgr_reload_plan_t *out)
    PGR_MUSTCHECK;
void pgr_reload_plan_free(pgr_reload_plan_t *p);
/* Copy into new the old values of the settings that need a restart (deep copies; new's own are
 * freed). 0 or PGR_ENOMEM (new is then unchanged in the part that failed and must not be used). */
int pgr_reload_keep(const pgr_config_t *old, pgr_config_t *new) PGR_MUSTCHECK;
const char *pgr_reload_op_name(pgr_reload_op_t op);

#endif
