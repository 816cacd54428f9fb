/* Per (node, user, database) pools of server connections: async acquire with a FIFO of waiters,
 * release (transaction mode: straight back to idle; session mode: DISCARD ALL first; inside a
 * transaction: ROLLBACK and DISCARD ALL), max_size,
 * min_idle, idle_timeout, connect_timeout, acquire_timeout, counters. Each server connection is
 * on exactly one of the pool's state lists; set_state() in pool.c is the only mover. */
#ifndef PGR_BACKEND_POOL_H
#define PGR_BACKEND_POOL_H

#include <uv.h>

#include "core/base.h"
#include "pgrouter/cluster.h"
#include "core/list.h"
#include "backend/server.h"

struct pgr_node;

#define PGR_POOL_STATE_MAP(X)       \
    X(CONNECTING, "connecting")     \
    X(IDLE, "idle")                 \
    X(ACTIVE, "active")             \
    X(RESET, "reset")

typedef enum pgr_pool_state {
#define PGR_POOL_STATE_ENUM(name, text) PGR_PS_##name,
    PGR_POOL_STATE_MAP(PGR_POOL_STATE_ENUM)
#undef PGR_POOL_STATE_ENUM
    PGR_PS__COUNT
} pgr_pool_state_t;

typedef struct pgr_pool {
    pgr_list_t link;                  /* in node->pools */
    struct pgr_node *node;
    char *user, *dbname, *password;   /* effective credentials (password may be NULL) */
    pgr_pool_config_t cfg;
    pgr_list_t lists[PGR_PS__COUNT];
    int counts[PGR_PS__COUNT];
    pgr_list_t waiters;               /* pgr_acquire_t, oldest first */
    int n_waiters;
    uv_timer_t kick;                  /* 0 ms: hand idle connections to waiters */
    uv_timer_t wait_timer;            /* the oldest waiter's acquire deadline */
    uv_timer_t maint;                 /* idle_timeout reaping and min_idle top-up */
    bool closing;
    int pending;                      /* handles and servers still closing */
    uint64_t acquired, timed_out, connect_failures;
    void (*closed_cb)(struct pgr_pool *p, void *arg);
    void *closed_arg;
} pgr_pool_t;

struct pgr_acquire {
    pgr_list_t link;                  /* in pool->waiters */
    pgr_pool_t *pool;
    pgr_acquire_cb cb;
    void *arg;
    uint64_t deadline_ms;             /* loop time; 0: none */
};

/* A new empty pool of node for (user, dbname); password may be NULL. */
int pgr_pool_new(struct pgr_node *node, const char *user, const char *dbname,
                 const char *password, pgr_pool_t **out) PGR_MUSTCHECK;
/* The node's pool for (user, dbname), or NULL. */
pgr_pool_t *pgr_pool_find(struct pgr_node *node, const char *user, const char *dbname);

/* Queue a request; cb runs once, never before this returns. Fails with PGR_ESHUTDOWN or
 * PGR_EREMOVED (the pool is closing) or PGR_ENOMEM. */
int pgr_pool_acquire(pgr_pool_t *pool, pgr_acquire_cb cb, void *arg, pgr_acquire_t **out)
    PGR_MUSTCHECK;
void pgr_pool_acquire_cancel(pgr_acquire_t *req);
/* Give back a connection lent by this pool (or detached from a closed one). */
void pgr_pool_release(pgr_server_t *srv, pgr_release_t how);

/* Fail every waiter with status (and a message naming the node). */
void pgr_pool_fail_waiters(pgr_pool_t *pool, int status);
/* The node was marked unhealthy (why: its last health error): fail every waiter with
 * PGR_EUNHEALTHY and a message naming the node, close the idle, connecting and resetting
 * connections, and end the work on lent ones (pgr_server_abort): their borrowers learn at once,
 * and each connection is closed when it is released. The pool stays open. */
void pgr_pool_node_down(pgr_pool_t *pool, const char *why);
/* Connections lent out plus connections being reset plus waiters. */
int pgr_pool_busy(const pgr_pool_t *pool);
/* Close the pool: fail waiters with status, close idle and connecting connections, kill lent
 * ones under their borrowers (they stay valid until released). cb runs when the pool is freed. */
void pgr_pool_close(pgr_pool_t *pool, int status, void (*cb)(pgr_pool_t *p, void *arg),
                    void *arg);
/* Add this pool's counters into acc. */
void pgr_pool_stats_add(const pgr_pool_t *pool, pgr_pool_stats_t *acc);

#endif
