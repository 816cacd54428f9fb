/* The one runtime object: the loop, the current config snapshot, the cluster, the listener, the
 * client sessions and the counters. Passed explicitly to whoever needs it; nothing else is
 * global (the logger excepted, see log.h). main.c builds it, runs the loop, and tears it down.
 * Layers above core see the cluster and listener as opaque pointers. */
#ifndef PGR_CORE_RUNTIME_H
#define PGR_CORE_RUNTIME_H

#include <uv.h>

#include "core/base.h"
#include "core/list.h"
#include "pgrouter/config.h"
#include "protocol/writer.h"

struct pgr_cluster;
struct pgr_listener;
struct pgr_cancel_map;
struct pgr_auth_secret;
struct pgr_dbauth;
struct pgr_classifier;
struct pgr_router;
struct pgr_tls_ctx;

typedef struct pgr_runtime_stats {
    uint64_t clients_accepted;
    uint64_t clients_refused;   /* max_clients, shutdown */
    uint64_t auth_failures;
    uint64_t login_timeouts;
    uint64_t protocol_errors;
    uint64_t queries;           /* Query and Sync messages relayed */
    uint64_t transactions;      /* server connections returned at ReadyForQuery 'I' */
    uint64_t bytes_in, bytes_out;
    uint64_t cancels_forwarded, cancels_ignored;
    uint64_t cancels_to_peers;         /* CancelRequests for another instance, sent to it */
    uint64_t cancels_peer_failed;      /* of those, not delivered (connect error, timeout) */
    uint64_t cancels_unknown_instance; /* for an instance that is neither this one nor a peer */
    uint64_t pinned;            /* sessions pinned to their server connection */
    uint64_t server_resets;     /* released with DISCARD ALL (pinned state, session mode) */
    uint64_t server_closes_dirty; /* released mid-transaction or with a message in flight */
    uint64_t server_closes_state; /* carrying what DISCARD ALL keeps (placeholder, LOAD) */
    uint64_t query_timeouts;    /* sessions ended by pool.query_timeout */
    uint64_t idle_transaction_timeouts; /* sessions ended by pool.idle_transaction_timeout */
} pgr_runtime_stats_t;

/* What an admin-console session keeps between its commands (owned by the session). */
typedef struct pgr_admin_session {
    bool listening; /* LISTEN pgrouter_events: node events come as NotificationResponses */
} pgr_admin_session_t;

typedef struct pgr_runtime {
    uv_loop_t *loop;
    pgr_config_t *cfg;              /* the current snapshot; replaced whole on reload */
    pgr_config_t **retired;         /* snapshots replaced by reloads, freed at exit */
    size_t n_retired;
    struct pgr_cluster *cluster;
    struct pgr_listener *listener;
    struct pgr_cancel_map *cancels;
    pgr_list_t peer_cancels;        /* CancelRequests on their way to peers (backend/cancel);
                                       a zeroed head is initialised at first use */
    size_t n_peer_cancels;          /* how many: each holds a socket for up to 2 s */
    struct pgr_classifier *classifier; /* route/classify: statement classes, cached */
    struct pgr_classifier *old_classifier; /* replaced by the last reload; freed by the next */
    struct pgr_router *router;         /* route/router: the policy */
    /* Hooks the ops layer installs (sessions sit below it and cannot call it directly):
     * admin_execute answers one admin-console Query into out (no ReadyForQuery) for the
     * session whose state is sess;
     * explain_route writes where sql would go and why. */
    int (*admin_execute)(struct pgr_runtime *rt, const char *sql, size_t len, pgr_writer_t *out,
                         pgr_admin_session_t *sess);
    void (*explain_route)(struct pgr_runtime *rt, const char *sql, size_t len, char *out,
                          size_t cap);
    pgr_list_t clients;             /* every pgr_client_t, in accept order */
    size_t n_clients;
    size_t n_reserved;              /* of those, admin-console sessions on a reserved slot
                                       (admin.reserved_connections), beyond max_clients */
    struct pgr_auth_secret *auth_secret; /* random per process: mock SCRAM salts */
    struct pgr_dbauth *dbauth;      /* session/dbauth: auth.query's cache */
    struct pgr_tls_ctx *tls;        /* client-facing TLS (net/tls), or NULL: built at start when
                                       tls.mode is not disable and tls.cert is set; kept across
                                       reloads (tls is restart-bound) */
    bool shutting_down;             /* new queries get 57P01, no new clients */
    pgr_runtime_stats_t stats;
} pgr_runtime_t;

#endif
