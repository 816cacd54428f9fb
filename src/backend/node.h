/* Nodes and the node registry (the cluster's private state): a node owns a deep copy of its
 * config, its pools and its health checker; node.c validates, creates, drains and frees nodes,
 * builds libpq connection parameters, and emits events. cluster.c is the public facade over it. */
#ifndef PGR_BACKEND_NODE_H
#define PGR_BACKEND_NODE_H

#include <uv.h>

#include "core/base.h"
#include "pgrouter/cluster.h"
#include "pgrouter/config.h"
#include "backend/health.h"
#include "core/list.h"
#include "backend/pool.h"

#define PGR_CLUSTER_MAX_LISTENERS 16

typedef struct pgr_node {
    pgr_list_t link;              /* in cluster->nodes, then cluster->dying */
    struct pgr_cluster *cluster;
    pgr_node_config_t cfg;        /* deep copy; strings owned */
    pgr_pool_config_t pool_cfg;   /* effective limits: node overrides over global */
    pgr_list_t pools;             /* pgr_pool_t */
    pgr_health_checker_t health;
    int n_ops;                    /* library queries in flight on this node (parallel.c) */
    bool removing;                /* takes no new work */
    int closing_parts;            /* pools + health checker still closing */
    uv_timer_t drain_timer;       /* removal: polls for drained work, enforces the deadline */
    bool drain_timer_open;
    uint64_t drain_deadline;      /* loop time (ms) */
    pgr_done_cb remove_cb;
    void *remove_arg;
    struct pgr_node_note *notes;  /* pgr_cluster_note_set, newest first */
    int n_notes;
} pgr_node_t;

/* One fact learned about (node, database): "key" = "value". */
typedef struct pgr_node_note {
    struct pgr_node_note *next;
    char *database, *key, *value;
} pgr_node_note_t;

#define PGR_NODE_MAX_NOTES 256

void pgr_node_notes_free(pgr_node_t *node);

struct pgr_cluster {
    uv_loop_t *loop;
    pgr_pool_config_t pool;       /* global pool limits */
    struct {
        int64_t interval_ms, timeout_ms, backoff_initial_ms, backoff_max_ms;
        int unhealthy_threshold;
        double backoff_jitter;
        pgr_login_config_t login; /* health.user/password/dbname (owned; NULL: unset) */
    } health;
    int64_t drain_timeout_ms;
    char *user, *password, *dbname, *appname;
    pgr_list_t nodes;             /* live nodes, in the order added */
    size_t n_nodes;
    pgr_list_t dying;             /* removed nodes whose parts are still closing */
    pgr_list_t ops;               /* library queries in flight (parallel.c) */
    pgr_list_t cancels;           /* cancel requests in flight (cancel.c) */
    pgr_list_t orphans;           /* servers killed under a borrower, awaiting release */
    struct pgr_user_cred *creds;  /* pgr_cluster_set_user_password: user -> password */
    struct {
        pgr_event_cb cb;
        void *arg;
    } listeners[PGR_CLUSTER_MAX_LISTENERS];
    size_t n_listeners;
    uv_timer_t stats_timer;       /* POOL_STATS every health interval */
    uv_timer_t stop_timer;        /* shutdown: drain polling and deadline */
    int stop_phase;               /* 0 running, 1 draining, 2 closing, 3 done */
    uint64_t stop_deadline;
    int pending;                  /* own handles still closing */
    pgr_done_cb stop_cb;
    void *stop_arg;
    uint64_t rng;                 /* xorshift64 state for backoff jitter */
};

/* A password a caller verified for a user (pass-through authentication), for that user's
 * pools; wiped when replaced or freed. */
typedef struct pgr_user_cred {
    struct pgr_user_cred *next;
    char *user, *password;
} pgr_user_cred_t;

/* Validate nc for cluster c (id, uniqueness, host, port, ssl mode); message in err. */
int pgr_node_validate(const struct pgr_cluster *c, const pgr_node_config_t *nc, char *err,
                      size_t errlen) PGR_MUSTCHECK;
/* Create node from nc (copied), register it, create its default pool and start its health
 * checks; emits NODE_ADDED. */
int pgr_node_add(struct pgr_cluster *c, const pgr_node_config_t *nc, pgr_node_t **out, char *err,
                 size_t errlen) PGR_MUSTCHECK;
pgr_node_t *pgr_node_find(const struct pgr_cluster *c, const char *id);
/* Start removing node: REMOVED, no new work, drain up to drain_ms then close everything; emits
 * NODE_REMOVED and calls cb (may be NULL) when the node is gone. */
void pgr_node_remove(pgr_node_t *node, int64_t drain_ms, int status, pgr_done_cb cb, void *arg);
/* Work still running on node: lent connections, resets, waiters, library queries. */
int pgr_node_busy(const pgr_node_t *node);
/* Force the node's pools closed with status now (used by shutdown after its drain). */
void pgr_node_force(pgr_node_t *node, int status);

/* The pool for (user, dbname) on node, created on first use. The node's own user, dbname and
 * password win; without a password from the node or the caller, the one
 * pgr_cluster_set_user_password stored for the user is used. */
int pgr_node_pool(pgr_node_t *node, const char *user, const char *dbname, const char *password,
                  pgr_pool_t **out) PGR_MUSTCHECK;
/* The same with exactly these credentials, the node's own ignored. */
int pgr_node_pool_as(pgr_node_t *node, const char *user, const char *dbname,
                     const char *password, pgr_pool_t **out) PGR_MUSTCHECK;
/* Start a connection to node as (user, dbname, password): the node's own credentials win.
 * Sets application_name and the SSL settings. */
int pgr_node_connect(pgr_node_t *node, const char *user, const char *dbname, const char *password,
                     int64_t timeout_ms, pgr_server_connect_cb cb, void *arg, pgr_server_t **out,
                     char *err, size_t errlen) PGR_MUSTCHECK;
/* The same with exactly these credentials (the health checker's login, already resolved). */
int pgr_node_connect_as(pgr_node_t *node, const char *user, const char *dbname,
                        const char *password, int64_t timeout_ms, pgr_server_connect_cb cb,
                        void *arg, pgr_server_t **out, char *err, size_t errlen) PGR_MUSTCHECK;
/* An I/O error on a pooled connection: trigger an immediate health check. */
void pgr_node_report_io_error(pgr_node_t *node);
/* The health checker marked node unhealthy (why: its last error): every pool's waiters fail,
 * its unlent connections close and the work on its lent ones ends now (pgr_pool_node_down),
 * so no statement waits for a node that stopped answering. */
void pgr_node_down(pgr_node_t *node, const char *why);
void pgr_node_stats(const pgr_node_t *node, pgr_pool_stats_t *out);

/* The password pgr_cluster_set_user_password stored for user, or NULL. */
const char *pgr_cluster_user_password(const struct pgr_cluster *c, const char *user);

/* Emit ev to every listener. */
void pgr_cluster_emit(struct pgr_cluster *c, const pgr_event_t *ev);
/* A uniform double in [0, 1) from the cluster's PRNG. */
double pgr_cluster_rand(struct pgr_cluster *c);

#endif
