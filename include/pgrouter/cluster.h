/* The node cluster library: per-node libpq pools on one libuv loop, health checking, events,
 * parallel queries, live add/remove and graceful shutdown.
 *
 * Everything runs on the loop given to pgr_cluster_new() and must be called from that loop's
 * thread. A call that takes a callback follows libuv's rule: it either fails (returns a negative
 * PGR_E* code) and never calls the callback, or succeeds and calls it exactly once, never before
 * returning. Types are opaque; records handed to callers (pgr_health_t, pgr_pool_stats_t,
 * pgr_result_t, pgr_event_t) are plain values or live only for the callback that receives them.
 *
 * Typical life: pgr_cluster_new() → uv_run() with queries, acquires, events →
 * pgr_cluster_shutdown() → (its callback) → pgr_cluster_free() → uv_loop_close().
 * tests/integration/cluster_example.c shows it end to end. */
#ifndef PGROUTER_CLUSTER_H
#define PGROUTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "pgrouter/config.h"
#include "pgrouter/error.h"

typedef struct pgr_cluster pgr_cluster_t;
/* One pooled server connection (a libpq PGconn), lent to a caller between acquire and release. */
typedef struct pgr_server pgr_server_t;
/* A pending acquire request; valid until its callback runs or it is canceled. */
typedef struct pgr_acquire pgr_acquire_t;

#define PGR_NODE_ID_MAX 64 /* node ids are 1..63 bytes */

/* ---- nodes and health ------------------------------------------------------------------- */

#define PGR_NODE_STATE_MAP(X)          \
    X(CONNECTING, "connecting")        \
    X(HEALTHY, "healthy")              \
    X(UNHEALTHY, "unhealthy")          \
    X(RECONNECTING, "reconnecting")    \
    X(REMOVED, "removed")

typedef enum pgr_node_state {
#define PGR_NODE_STATE_ENUM(name, text) PGR_NODE_##name,
    PGR_NODE_STATE_MAP(PGR_NODE_STATE_ENUM)
#undef PGR_NODE_STATE_ENUM
} pgr_node_state_t;

/* "connecting", "healthy", ...; "unknown" for anything else. */
const char *pgr_node_state_name(pgr_node_state_t s);

/* A node as configured. */
typedef struct pgr_node_info {
    char id[PGR_NODE_ID_MAX];
    char host[256];
    int port;
    pgr_role_t role;  /* the configured role (PGR_ROLE_AUTO: follow what the node reports) */
    int weight;
} pgr_node_info_t;

/* A node's health record, as of the last check. */
typedef struct pgr_health {
    char node_id[PGR_NODE_ID_MAX];
    pgr_node_state_t state;
    pgr_role_t role;            /* as the node reports it (PRIMARY or REPLICA); AUTO until known */
    uint64_t lsn;               /* replay LSN on a replica, current WAL LSN on a primary */
    double lag_s;               /* now() - pg_last_xact_replay_timestamp() on a replica, else 0 */
    int64_t latency_us;         /* round trip of the last successful check */
    int64_t last_check_ms;      /* wall clock (ms since the epoch) of the last finished check */
    int consecutive_failures;
    uint64_t checks, failures;  /* totals since the node was added */
    char last_error[256];       /* "" when no check ever failed */
    int64_t last_error_ms;      /* wall clock (ms since the epoch) of last_error; 0 with none */
} pgr_health_t;

/* Pool counters of one node, summed over its (user, database) pools. max is the per-pool
 * max_size. total = idle + active + connecting (+ connections being reset). */
typedef struct pgr_pool_stats {
    char node_id[PGR_NODE_ID_MAX];
    int total, idle, active, connecting, waiting, max;
    uint64_t acquired, timed_out, connect_failures;
} pgr_pool_stats_t;

/* ---- the cluster ------------------------------------------------------------------------- */

/* Credentials and database for the library's own connections (query, query_all, and health
 * checks where neither cfg's health keys nor the node give one) where a node's config has none.
 * NULL fields: user and dbname "postgres", no password, application_name "pgrouter" (set on
 * every connection the library opens). */
typedef struct pgr_cluster_options {
    const char *user;
    const char *password;
    const char *dbname;
    const char *application_name;
} pgr_cluster_options_t;

/* Create a cluster on loop from cfg's pool/health/shutdown settings and its nodes (cfg is copied;
 * the caller keeps it). Every node starts connecting and health checking at once, in parallel.
 * opts may be NULL. On failure *out is NULL and err (if not NULL) holds a message. */
int pgr_cluster_new(uv_loop_t *loop, const pgr_config_t *cfg, const pgr_cluster_options_t *opts,
                    pgr_cluster_t **out, char *err, size_t errlen);
/* Free the cluster. Call only after pgr_cluster_shutdown()'s callback has run (the cluster then
 * owns no handle, so uv_loop_close() can succeed). Servers still lent out become invalid. */
void pgr_cluster_free(pgr_cluster_t *c);
uv_loop_t *pgr_cluster_loop(pgr_cluster_t *c);

/* True until shutdown starts. */
bool pgr_cluster_is_running(const pgr_cluster_t *c);

bool pgr_cluster_has_node(const pgr_cluster_t *c, const char *id);
/* Fill *out for node id; PGR_ENOENT when there is none. */
int pgr_cluster_get_node(const pgr_cluster_t *c, const char *id, pgr_node_info_t *out);
/* Copy up to cap nodes (in the order they were added) into out; returns how many there are. */
size_t pgr_cluster_all_nodes(const pgr_cluster_t *c, pgr_node_info_t *out, size_t cap);

/* Health of node id; PGR_ENOENT when there is none. */
int pgr_cluster_get_health(const pgr_cluster_t *c, const char *id, pgr_health_t *out);
size_t pgr_cluster_all_health(const pgr_cluster_t *c, pgr_health_t *out, size_t cap);
/* The ids of the nodes now HEALTHY (pointers valid until that node is removed). */
size_t pgr_cluster_healthy_nodes(const pgr_cluster_t *c, const char **ids, size_t cap);
/* Ask for an immediate health check of an unhealthy node instead of waiting out its backoff; at
 * most one such probe per node per second is made (others are ignored). PGR_ENOENT if unknown. */
int pgr_cluster_probe(pgr_cluster_t *c, const char *id);

int pgr_cluster_pool_stats(const pgr_cluster_t *c, const char *id, pgr_pool_stats_t *out);
size_t pgr_cluster_all_pool_stats(const pgr_cluster_t *c, pgr_pool_stats_t *out, size_t cap);

/* Add a node at runtime: validated (id 1..63 bytes and unique, host, port 1-65535, ssl mode),
 * then it joins health checking at once and a NODE_ADDED event fires. On failure returns
 * PGR_EEXIST (duplicate id), PGR_EINVAL (bad settings) or PGR_ESHUTDOWN, with a message in err. */
int pgr_cluster_add_node(pgr_cluster_t *c, const pgr_node_config_t *node, char *err,
                         size_t errlen);
/* The same from a libpq conninfo string ("host=... port=... dbname=..."); only host, port,
 * dbname, user, password, sslmode, sslrootcert, sslcert and sslkey are accepted. */
int pgr_cluster_add_node_conninfo(pgr_cluster_t *c, const char *id, const char *conninfo,
                                  char *err, size_t errlen);

/* Change a node's configured weight (0..1000000; 0 takes no balanced reads) or role
 * (PGR_ROLE_AUTO: follow what the node reports), as the config would have set them. They take
 * effect for the next routing decision (pgr_cluster_get_node / all_nodes report them); health
 * checking is not affected. PGR_ENOENT if there is no such node, PGR_EINVAL for a value out of
 * range. */
int pgr_cluster_set_node_weight(pgr_cluster_t *c, const char *id, int weight);
int pgr_cluster_set_node_role(pgr_cluster_t *c, const char *id, pgr_role_t role);

/* Small facts a borrower learned about a database on node id over its own connections (the
 * broadcast merge: the database's default collation), kept with the node until it is removed,
 * at most 256 per node (the oldest is forgotten first). set replaces the value of (database,
 * key): 0, PGR_ENOENT (no such node) or PGR_ENOMEM. get: the value, valid until the next set
 * on that node or its removal; NULL when not known. */
int pgr_cluster_note_set(pgr_cluster_t *c, const char *id, const char *database,
                         const char *key, const char *value);
/* Notes whose key is PGR_NOTE_PARAM + a setting's name ("param:TimeZone") hold what a login to
 * that database last reported in ParameterStatus (server_version, server_encoding, DateStyle,
 * ...). The cluster writes them for database "" from each node's health connection (any
 * database of the node); borrowers may write them for the databases they log in to. */
#define PGR_NOTE_PARAM "param:"
const char *pgr_cluster_note_get(const pgr_cluster_t *c, const char *id, const char *database,
                                 const char *key);

typedef void (*pgr_done_cb)(pgr_cluster_t *c, int status, void *arg);
/* Remove node id: it leaves health checking and takes no new work at once (state REMOVED),
 * waiters fail with PGR_EREMOVED, in-flight work may finish for up to drain_timeout_ms (< 0:
 * the config's shutdown.drain_timeout), then its pools are closed, what remains is forced, and
 * NODE_REMOVED fires before cb (may be NULL) runs with 0. PGR_ENOENT if there is no such node. */
int pgr_cluster_remove_node(pgr_cluster_t *c, const char *id, int64_t drain_timeout_ms,
                            pgr_done_cb cb, void *arg);

/* Graceful shutdown: stop health checks, reject new work with PGR_ESHUTDOWN, let in-flight work
 * finish for up to drain_timeout_ms (< 0: the config's), close every pool in parallel,
 * force-close the rest; cb (may be NULL) runs once every handle the cluster owned is closed. */
int pgr_cluster_shutdown(pgr_cluster_t *c, int64_t drain_timeout_ms, pgr_done_cb cb, void *arg);

/* ---- queries ----------------------------------------------------------------------------- */

/* The outcome of one statement on one node. Valid only during the callback it is passed to. */
typedef struct pgr_result {
    const char *node_id;
    int status;                  /* 0, or PGR_EQUERY (the node's error), PGR_ETIMEDOUT,
                                  * PGR_ECONNECT, PGR_ECLOSED, PGR_ESHUTDOWN, PGR_EREMOVED, ... */
    bool ok;                     /* status == 0 */
    char sqlstate[6];            /* the node's SQLSTATE, or ours (57014 timeout, 08006
                                  * unreachable, 57P01 shutting down, 53300 pool limit) */
    const char *message;         /* NULL when ok */
    const char *command_tag;     /* "SELECT 3"; NULL on error */
    int n_fields, n_rows;
    const char *const *field_names;
    const char *const *values;   /* n_rows * n_fields, row-major; NULL is SQL NULL */
    int64_t duration_us;
} pgr_result_t;

/* Value at (row, col), NULL for SQL NULL or out of range. */
const char *pgr_result_value(const pgr_result_t *r, int row, int col);

typedef void (*pgr_query_cb)(pgr_cluster_t *c, const pgr_result_t *res, void *arg);
typedef void (*pgr_query_all_cb)(pgr_cluster_t *c, const pgr_result_t *res, size_t n, void *arg);

/* Run sql (with n_params text parameters $1..; n_params 0 allows several statements, the last
 * result counts) on node id over its pool, within timeout_ms (< 0: none). A timed-out statement
 * is canceled on the node. Fails at once with PGR_ENOENT, PGR_ESHUTDOWN or PGR_EREMOVED. */
int pgr_cluster_query(pgr_cluster_t *c, const char *id, const char *sql, int n_params,
                      const char *const *params, int64_t timeout_ms, pgr_query_cb cb, void *arg);
/* pgr_cluster_query logged in as (user, dbname, password) over that login's own pool on the
 * node, the node's own user and password ignored (dbname NULL: the node's dbname). */
int pgr_cluster_query_as(pgr_cluster_t *c, const char *id, const char *user, const char *dbname,
                         const char *password, const char *sql, int n_params,
                         const char *const *params, int64_t timeout_ms, pgr_query_cb cb,
                         void *arg);
/* Check a login on node id: open a new connection as (user, dbname, password) (the node's
 * dbname wins; its user and password are ignored; its SSL settings apply), then close it. cb
 * gets status 0 when the node accepted it, else PGR_ECONNECT / PGR_ETIMEDOUT (after
 * timeout_ms) with libpq's message (the node's FATAL, e.g. "password authentication failed for
 * user ..."). Never through a pool: an existing connection proves nothing about a password. */
int pgr_cluster_check_login(pgr_cluster_t *c, const char *id, const char *user,
                            const char *dbname, const char *password, int64_t timeout_ms,
                            pgr_query_cb cb, void *arg);
/* Remember password as user's (replacing an earlier one, which is wiped) for the server
 * connections of that user's pools on nodes without their own user/password, including pools
 * that exist already and pools made later with no password given. Kept in memory only, never
 * shown. 0 or PGR_ENOMEM. */
int pgr_cluster_set_user_password(pgr_cluster_t *c, const char *user, const char *password);

/* The same statement on every node at once, each with its own timeout; cb gets one result per
 * node, in node order, failures included. PGR_ENOENT when there are no nodes. */
int pgr_cluster_query_all(pgr_cluster_t *c, const char *sql, int n_params,
                          const char *const *params, int64_t timeout_ms, pgr_query_all_cb cb,
                          void *arg);
/* As query_all over the nodes now HEALTHY; PGR_EUNHEALTHY when there are none. */
int pgr_cluster_query_healthy(pgr_cluster_t *c, const char *sql, int n_params,
                              const char *const *params, int64_t timeout_ms,
                              pgr_query_all_cb cb, void *arg);

/* ---- events ------------------------------------------------------------------------------ */

typedef enum pgr_event_type {
    PGR_EVENT_NODE_ADDED,
    PGR_EVENT_NODE_REMOVED,
    PGR_EVENT_NODE_HEALTH,       /* old_state → new_state: a real change (an unhealthy node's
                                  * reconnect attempts are not announced; old_state is the
                                  * state the previous NODE_HEALTH event announced) */
    PGR_EVENT_NODE_CONNECTED,    /* the node's health connection is up */
    PGR_EVENT_NODE_DISCONNECTED, /* it was lost or closed; error says why */
    PGR_EVENT_POOL_STATS,        /* every health interval: stats[0..n_stats) */
} pgr_event_type_t;

typedef struct pgr_event {
    pgr_event_type_t type;
    const char *node_id;         /* NULL for POOL_STATS */
    pgr_node_state_t old_state, new_state;
    const char *error;           /* NODE_DISCONNECTED / NODE_HEALTH: the last error, or NULL */
    const pgr_pool_stats_t *stats;
    size_t n_stats;
} pgr_event_t;

typedef void (*pgr_event_cb)(pgr_cluster_t *c, const pgr_event_t *ev, void *arg);
/* Register cb (up to 16 listeners); every event goes to each, in registration order. */
int pgr_cluster_subscribe(pgr_cluster_t *c, pgr_event_cb cb, void *arg);
/* Remove the listener registered with this cb and arg; PGR_ENOENT if none. */
int pgr_cluster_unsubscribe(pgr_cluster_t *c, pgr_event_cb cb, void *arg);

/* ---- pooled server connections (the relay's hot path) ----------------------------------- */

/* status 0: srv is an idle CONNECTION_OK connection, now lent to the caller until
 * pgr_cluster_release(). Otherwise srv is NULL, status is PGR_ETIMEDOUT (acquire_timeout; the
 * node is not marked unhealthy), PGR_ECONNECT, PGR_ESHUTDOWN or PGR_EREMOVED, and errmsg names
 * the node (and the limit). errmsg lives for the callback only. */
typedef void (*pgr_acquire_cb)(pgr_acquire_t *req, int status, pgr_server_t *srv,
                               const char *errmsg, void *arg);
/* Ask node id's pool for (user, database) for a connection. password is used when the node's
 * config has none. *req_out (may be NULL) identifies the request for pgr_cluster_acquire_cancel. */
int pgr_cluster_acquire(pgr_cluster_t *c, const char *id, const char *user, const char *database,
                        const char *password, pgr_acquire_cb cb, void *arg,
                        pgr_acquire_t **req_out);
/* Withdraw a request whose callback has not run; its callback will not run. */
void pgr_cluster_acquire_cancel(pgr_acquire_t *req);

typedef enum pgr_release {
    PGR_RELEASE_CLEAN, /* ReadyForQuery 'I' seen, nothing unread: back to idle (session mode:
                        * after DISCARD ALL) */
    PGR_RELEASE_RESET, /* the same, after DISCARD ALL in either mode (its data is dropped) */
    PGR_RELEASE_CLOSE, /* anything else: the connection is closed */
    PGR_RELEASE_ROLLBACK, /* ReadyForQuery 'T' or 'E' seen, nothing unread (a session ended idle
                           * in a transaction): ROLLBACK, then as RESET; closed if either fails */
} pgr_release_t;
/* Return a lent connection. srv is invalid afterwards. */
void pgr_cluster_release(pgr_server_t *srv, pgr_release_t how);

/* While lent: drive the connection's socket. cb runs with status 0 and UV_READABLE/UV_WRITABLE
 * in events when the socket is ready for what was asked; with status < 0 (PGR_ESHUTDOWN,
 * PGR_EREMOVED, or a poll error) when the connection was closed under the caller, who must then
 * release it. want_read = want_write = false stops watching (cb stays registered for errors). */
int pgr_server_watch(pgr_server_t *srv, bool want_read, bool want_write,
                     void (*cb)(pgr_server_t *srv, int status, int events, void *arg), void *arg);
/* Raw non-blocking I/O on the lent connection, plain or TLS: returns bytes moved, 0 when it
 * would block, or PGR_ECLOSED (EOF) / PGR_EIO. With TLS, a write that returned 0 must be retried
 * with the same buffer and length, and a 0 may need readability as well as writability. An I/O
 * error triggers an immediate health check of the node. */
ssize_t pgr_server_read(pgr_server_t *srv, void *buf, size_t len);
ssize_t pgr_server_write(pgr_server_t *srv, const void *buf, size_t len);
/* Decrypted bytes waiting in the TLS layer (read them before polling); 0 without TLS. */
size_t pgr_server_pending(pgr_server_t *srv);

const char *pgr_server_node_id(const pgr_server_t *srv);
/* A ParameterStatus value the server reported (server_version, client_encoding, ...), or NULL. */
const char *pgr_server_parameter(const pgr_server_t *srv, const char *name);
/* The backend's BackendKeyData; PGR_ENOENT if the server sent none. */
int pgr_server_backend_key(const pgr_server_t *srv, uint32_t *pid, uint32_t *key);

/* Attach the borrower's data to the connection itself (it outlives one loan: e.g. what is
 * prepared on it). free_cb (may be NULL) runs when the connection closes, when a session-mode
 * reset (DISCARD ALL) drops its state, or when other data replaces it. */
void pgr_server_set_data(pgr_server_t *srv, void *data, void (*free_cb)(void *data));
/* The data set with pgr_server_set_data(), or NULL. */
void *pgr_server_get_data(const pgr_server_t *srv);

typedef void (*pgr_cancel_cb)(int status, void *arg);
/* Send a CancelRequest for srv's backend over a new non-blocking socket, bounded by timeout_ms
 * (< 0: 5000). cb (may be NULL) gets 0 when the node took the request and closed, else
 * PGR_ETIMEDOUT / PGR_ECONNECT. srv may be released before cb runs. */
int pgr_server_cancel(pgr_server_t *srv, int64_t timeout_ms, pgr_cancel_cb cb, void *arg);

#endif
