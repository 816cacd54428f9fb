/* The routing policy: given what a transaction's first statement is (its class and hint from
 * route/classify), the session's pgrouter.route setting and the nodes' health, pick where it
 * runs — one node, or every node (broadcast) — and say why.
 *
 * Rules, first match wins (DESIGN.md "Routing"): a hint comment; the session setting; then the
 * class: reads (and BEGIN READ ONLY transactions) go to a healthy replica within
 * routing.max_replica_lag chosen by routing.balance and node weights (with read_your_writes, only
 * a replica that has replayed past the session's last commit), else to the primary; everything
 * else goes to the primary — the node that reports pg_is_in_recovery() = false — and fails fast
 * with 08006 naming the node when there is none healthy. The router owns no I/O; it reads
 * health from the cluster and keeps its own counters (round-robin position, in-flight links per
 * node for least-busy). */
#ifndef PGR_ROUTE_ROUTER_H
#define PGR_ROUTE_ROUTER_H

#include "core/base.h"
#include "pgrouter/cluster.h"
#include "pgrouter/config.h"
#include "route/classify.h"

typedef enum {
    PGR_ROUTE_NODE,      /* node_id */
    PGR_ROUTE_BROADCAST, /* every healthy node (of role, when role is not AUTO) */
    PGR_ROUTE_ERROR,     /* sqlstate + message */
} pgr_route_kind_t;

/* The session setting pgrouter.route. */
typedef enum {
    PGR_SESSION_ROUTE_AUTO,
    PGR_SESSION_ROUTE_PRIMARY,
    PGR_SESSION_ROUTE_REPLICA,
    PGR_SESSION_ROUTE_BROADCAST,
    PGR_SESSION_ROUTE_NODE,
} pgr_session_route_t;

typedef struct pgr_route_req {
    pgr_stmt_class_t cls;      /* of the transaction's first statement */
    bool read_only_txn;        /* the transaction was begun READ ONLY */
    pgr_hint_kind_t hint;
    const char *hint_node;
    pgr_session_route_t session;
    const char *session_node;  /* PGR_SESSION_ROUTE_NODE */
    uint64_t min_lsn;          /* read-your-writes: the session's last commit LSN, or 0 */
    bool broadcast_reads;      /* pgrouter.broadcast verify: a read with no hint or session
                                  route goes to every healthy node */
} pgr_route_req_t;

typedef struct pgr_route {
    pgr_route_kind_t kind;
    char node_id[PGR_NODE_ID_MAX];
    pgr_role_t role;           /* BROADCAST: PRIMARY / REPLICA to limit it, AUTO for all */
    bool read;                 /* routed as a read */
    char sqlstate[6];
    bool pending;              /* ERROR: a node that could take it has no health result yet
                                  (connecting); it may be worth waiting for */
    /* NODE and BROADCAST: why, kept as facts and put into words only when asked
     * (pgr_route_reason), so that routing a statement formats nothing. */
    const char *why;           /* static: "read", "hint node", "write", ... */
    const char *no_replica;    /* static: why a read went to the primary ("healthy": none is),
                                  or NULL */
    pgr_role_t node_role;      /* NODE: the node's role */
    int policy;                /* NODE picked among replicas: its pgr_balance_t, else -1 */
    double lag_s;              /* ... and that replica's lag and replay position */
    uint64_t lsn, min_lsn;     /* min_lsn: read-your-writes' bound, or 0 */
    char reason[512];          /* ERROR: the message */
} pgr_route_t;

/* Why r was taken, in words: "read -> replica pg2 (least-busy, lag 0.0s)", "hint broadcast ->
 * every healthy node", or an ERROR's message. Returns buf (or r->reason for an ERROR). */
const char *pgr_route_reason(const pgr_route_t *r, char *buf, size_t cap);

typedef struct pgr_router pgr_router_t;

int pgr_router_new(pgr_cluster_t *cluster, const pgr_config_t *cfg, pgr_router_t **out);
void pgr_router_free(pgr_router_t *r);
/* Follow a new config snapshot (balance, lag, reads). */
void pgr_router_set_config(pgr_router_t *r, const pgr_config_t *cfg);

/* Decide. Never fails: problems come back as PGR_ROUTE_ERROR. */
void pgr_router_route(pgr_router_t *r, const pgr_route_req_t *req, pgr_route_t *out);

/* A session linked to / left node_id (in-flight counts for least-busy). */
void pgr_router_link(pgr_router_t *r, const char *node_id);
void pgr_router_unlink(pgr_router_t *r, const char *node_id);

/* Parse a value of SET pgrouter.route ('auto', 'primary', 'replica', 'broadcast', 'node:ID').
 * 0, or PGR_EINVAL with msg (22023 invalid value) or PGR_ENOENT (42704 unknown node). */
int pgr_router_parse_session_route(pgr_router_t *r, const char *value, pgr_session_route_t *out,
                                   char *node, size_t nodecap, char *msg, size_t msgcap);
const char *pgr_session_route_name(pgr_session_route_t s);

/* "node", "broadcast", "error". */
const char *pgr_route_kind_name(pgr_route_kind_t k);

/* Parse a WAL position "16/B374D848" into a 64-bit LSN; 0 when malformed. */
uint64_t pgr_lsn_parse(const char *s);

#endif
