/* Broadcast fan-out: one client's batch of messages (a Query, or Parse ... Sync) goes to N nodes
 * at once, each on its own pooled server connection; every node's reply is framed into complete
 * messages and fed to the merge engine (fanout/merge), whose output is the client's one result.
 *
 * Backpressure: a node is read only while the merge wants its messages and the client's output
 * is below a high-water mark, so memory stays bounded whatever the result size. A node that
 * fails (error, disconnect, no connection, broadcast.timeout) is reported by the merge and its
 * connection closed; the others go on. A broadcast that leaves the nodes inside a transaction
 * keeps its connections for the client's next batch; at ReadyForQuery 'I' they go back to their
 * pools — clean ones idle, any other closed.
 *
 * Ownership: the session owns the pgr_bcast_t; callbacks run from the loop, never from inside
 * the call that caused them; pgr_bcast_free may be called from any callback. */
#ifndef PGR_FANOUT_BROADCAST_H
#define PGR_FANOUT_BROADCAST_H

#include "core/base.h"
#include "fanout/merge.h"
#include "pgrouter/cluster.h"

typedef struct pgr_bcast pgr_bcast_t;

/* The key of a preamble unit that must succeed (pgr_bcast_cbs_t.prepare). */
#define PGR_BCAST_UNIT_GATE UINT64_MAX

typedef struct pgr_bcast_cbs {
    /* Merged bytes for the client. Returns 0, or an error to abort the broadcast. */
    int (*output)(void *arg, const uint8_t *p, size_t n);
    /* Bytes the client has not taken yet (backpressure). */
    size_t (*client_pending)(void *arg);
    /* The batch is complete: its final ReadyForQuery (status) went through output. */
    void (*done)(void *arg, char status);
    /* Optional. Before a batch goes to a node's connection srv (fresh: acquired for this
     * batch): append to w what srv needs first — settings, statements — as units that each end
     * in exactly one ReadyForQuery, and give their count in *n_units and, in *keys (malloc'd, or
     * NULL; the fan-out frees it), one key per unit. The units' replies never reach the merge;
     * a unit that fails (an ErrorResponse) is told with unit_failed(arg, srv, its key) — except
     * a unit keyed PGR_BCAST_UNIT_GATE, whose failure fails the node in the batch with the
     * unit's SQLSTATE and message (a condition the batch must not run without). Returns
     * 0 or PGR_ENOMEM (the node then fails). */
    int (*prepare)(void *arg, pgr_server_t *srv, bool fresh, pgr_writer_t *w, uint64_t **keys,
                   int *n_units);
    void (*unit_failed)(void *arg, pgr_server_t *srv, uint64_t key);
    /* Optional. Node connection srv reported a setting (ParameterStatus), from the preamble or
     * the batch: what it has now. */
    void (*parameter)(void *arg, pgr_server_t *srv, const char *name, const char *value);
} pgr_bcast_cbs_t;

typedef struct pgr_bcast_opts {
    const char *user, *database, *password;
    int64_t timeout_ms;        /* per batch, from the send; <= 0: none */
    size_t client_high;        /* pause the nodes above this much unsent client output */
    size_t merge_memory;       /* pgr_merge_set_memory; 0: the merge's default */
} pgr_bcast_opts_t;

/* Borrow one connection on each of the n nodes (their ids are copied). Fails only for bad
 * arguments or memory; a node that cannot be reached fails inside the first batch. */
int pgr_bcast_new(pgr_cluster_t *c, const char *const *node_ids, int n,
                  const pgr_bcast_opts_t *opts, const pgr_bcast_cbs_t *cbs, void *arg,
                  pgr_bcast_t **out);
/* Send one batch (ending in Query or Sync) to every live node, merged by plan (NULL:
 * concatenate). Only when the previous batch is done. */
int pgr_bcast_send(pgr_bcast_t *b, const uint8_t *msgs, size_t len, const pgr_merge_plan_t *plan,
                   pgr_merge_policy_t policy, bool node_column);
/* Node i was not healthy when the broadcast began (state names why): it is not tried, and the
 * merge reports it as failed in every batch. Call before the first send. */
void pgr_bcast_mark_down(pgr_bcast_t *b, int i, const char *state);
/* The client's output drained: read the nodes again. */
void pgr_bcast_resume(pgr_bcast_t *b);
/* Forward a cancel to every node still running the batch. */
void pgr_bcast_cancel(pgr_bcast_t *b);
/* A batch is in flight (sent, its final ReadyForQuery not yet given to the client). */
bool pgr_bcast_running(const pgr_bcast_t *b);
/* Give every connection back (clean ones to idle, the rest closed) and free. Nodes still
 * running a batch get a cancel first. */
void pgr_bcast_free(pgr_bcast_t *b);

/* The last batch, node by node (valid until the next send or free). */
typedef struct pgr_bcast_result {
    const char *node_id;
    bool ok;
    uint64_t rows;
    const char *sqlstate, *message;
    int64_t latency_us;
} pgr_bcast_result_t;
int pgr_bcast_n_nodes(const pgr_bcast_t *b);
void pgr_bcast_result(const pgr_bcast_t *b, int i, pgr_bcast_result_t *out);

#endif
