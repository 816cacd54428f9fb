/* The session side of a broadcast: the batch of client messages a broadcast statement is (one
 * Query, or Parse ... Sync), the nodes it goes to, the merge plan and error policy, and the
 * per-node outcome kept for SHOW pgrouter.last_broadcast. The fan-out itself is
 * fanout/broadcast.c. */
#ifndef PGR_SESSION_MULTI_H
#define PGR_SESSION_MULTI_H

#include "session/client.h"

/* Start broadcasting the statement at the front of the client's input (the router said
 * broadcast; route->role limits the nodes). Returns like pgr_dispatch_begin: ANSWERED when an
 * error was answered at once, WAIT when the batch is not complete yet, ROUTE when the broadcast
 * is running (the session is in state BROADCAST). */
int pgr_multi_start(pgr_client_t *cl, const pgr_route_t *route);
/* Client input while in state BROADCAST: the next batch, once the previous one is done and the
 * nodes are still inside a transaction. */
void pgr_multi_client_input(pgr_client_t *cl);
void pgr_multi_drained(pgr_client_t *cl);
void pgr_multi_cancel(pgr_client_t *cl);
/* The client goes away: give every connection back. */
void pgr_multi_close(pgr_client_t *cl);
/* The client is freed: everything the broadcast side keeps for it. */
void pgr_multi_free(pgr_client_t *cl);

#endif
