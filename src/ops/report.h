/* What the admin console and the HTTP endpoints both report: one consistent view of every node
 * (configuration, health and pool counters joined by node id), the runtime counters as a table,
 * and the small text formatters they share (LSNs, Prometheus label values, JSON strings). */
#ifndef PGR_OPS_REPORT_H
#define PGR_OPS_REPORT_H

#include <stdio.h>

#include "core/runtime.h"
#include "pgrouter/cluster.h"

/* One node as reported: has_health / has_pool are false only when the node came or went between
 * the three cluster calls (a view is taken in one loop turn, so in practice never). */
typedef struct pgr_report_node {
    pgr_node_info_t info;
    pgr_health_t health;
    pgr_pool_stats_t pool;
    bool has_health, has_pool;
} pgr_report_node_t;

typedef struct pgr_report_nodes {
    pgr_report_node_t *v; /* n entries, in the order the nodes were added; owned */
    size_t n;
    size_t n_healthy;
} pgr_report_nodes_t;

/* Snapshot every node of rt->cluster (none when rt->cluster is NULL). 0 or PGR_ENOMEM; on
 * success the caller frees with pgr_report_nodes_free(). */
int pgr_report_nodes(const pgr_runtime_t *rt, pgr_report_nodes_t *out) PGR_MUSTCHECK;
void pgr_report_nodes_free(pgr_report_nodes_t *nodes);

/* The runtime counters (pgr_runtime_stats_t), name and help text: SHOW STATS prints the names,
 * /metrics prints pgrouter_<name>_total. Keep in step with runtime.h. */
#define PGR_REPORT_STATS(X)                                                              \
    X(clients_accepted, "client connections accepted")                                   \
    X(clients_refused, "client connections refused (max_clients, shutdown)")            \
    X(auth_failures, "failed client authentications")                                    \
    X(login_timeouts, "clients dropped for sending nothing during startup")             \
    X(protocol_errors, "client protocol violations")                                     \
    X(queries, "Query and Sync messages relayed")                                        \
    X(transactions, "server connections returned at ReadyForQuery idle")                \
    X(bytes_in, "bytes received from clients")                                           \
    X(bytes_out, "bytes sent to clients")                                                \
    X(cancels_forwarded, "cancel requests forwarded to a node")                          \
    X(cancels_ignored, "cancel requests ignored (unknown key or nothing running)")      \
    X(cancels_to_peers, "cancel requests for another instance forwarded to that peer")  \
    X(cancels_peer_failed, "cancel requests to peers not delivered (error, timeout)")   \
    X(cancels_unknown_instance, "cancel requests for no known instance, dropped")       \
    X(pinned, "sessions pinned to their server connection")                              \
    X(server_resets, "server connections reset with DISCARD ALL before reuse")           \
    X(server_closes_dirty, "server connections closed: left mid-transaction or in flight") \
    X(server_closes_state, "server connections closed: state DISCARD ALL cannot undo") \
    X(query_timeouts, "sessions ended by pool.query_timeout")                            \
    X(idle_transaction_timeouts, "sessions ended by pool.idle_transaction_timeout")

/* "16/B374D848" as PostgreSQL prints an LSN. */
void pgr_report_lsn(uint64_t lsn, char *buf, size_t cap);

/* Do the node's role, latency, lag and LSN describe it now? Only while it is healthy (and has
 * been checked): an unhealthy or reconnecting node's are from its last good check and are
 * reported as unknown (NULL). */
bool pgr_report_health_current(const pgr_report_node_t *n);

/* v in the shortest form that reads back as exactly v ("0.000277", "1e-07", "3"); NaN, +Inf
 * and -Inf as Prometheus writes them. cap >= 32. */
void pgr_report_double(double v, char *buf, size_t cap);

/* A wall-clock time (ms since the epoch) as PostgreSQL prints a timestamptz in UTC:
 * "2026-12-07 20:03:45.969+00". cap >= 32. */
void pgr_report_time(int64_t ms, char *buf, size_t cap);

/* The length (1-4) of the valid UTF-8 sequence at s[0..avail), or 0 when there is none (an
 * invalid, overlong, surrogate or truncated sequence). Reads no further than avail. */
size_t pgr_report_utf8_seq(const char *s, size_t avail);
/* Is s[0..n) valid UTF-8 with no NUL? */
bool pgr_report_utf8_valid(const char *s, size_t n);
/* Replace in place every byte of s that is not part of valid UTF-8 by '?'; true if any was. */
bool pgr_report_utf8_sanitize(char *s);

/* Write s as a JSON string literal (quotes included; control characters escaped, valid UTF-8
 * kept, any byte that is not part of valid UTF-8 replaced by \ufffd so the document stays
 * valid). */
void pgr_report_json_str(FILE *f, const char *s);
/* Write s as a Prometheus label value (without the quotes): \ " and newline escaped. */
void pgr_report_label(FILE *f, const char *s);

#endif
