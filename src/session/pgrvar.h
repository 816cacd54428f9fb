/* The pgrouter.* settings a session sets and shows (SET / SHOW / RESET pgrouter.route,
 * pgrouter.node_column, pgrouter.broadcast, pgrouter.broadcast_consistency, SHOW
 * pgrouter.last_broadcast), answered without a server in the simple and the extended protocol:
 * at the start of a transaction (session/dispatch) and inside one, linked (session/relay) or
 * broadcast (session/multi). */
#ifndef PGR_SESSION_PGRVAR_H
#define PGR_SESSION_PGRVAR_H

#include "route/classify.h"
#include "session/reply.h"

/* A Query, or a Parse ... Sync batch, inside a linked transaction that only touches pgrouter.*
 * settings is answered here: ANSWERED (consumed), WAIT (the batch is not all in yet), CLOSED,
 * or ROUTE (not such a statement: it goes to the server). */
pgr_dispatch_t pgr_pgrvar_local(pgr_client_t *cl, const pgr_frame_t *f);


/* The end of the extended-protocol batch at the front of the input, when it is all about one
 * statement: ANSWERED with *end, WAIT until its Sync is in, ROUTE when it is more. */
pgr_dispatch_t pgr_pgrvar_extended_batch(pgr_client_t *cl, size_t *end);
/* Answer input[0..end) (pgr_pgrvar_extended_batch) as a server would, given the statement's
 * simple-protocol result and the transaction status after it; consumes the batch. */
void pgr_pgrvar_answer_extended(pgr_client_t *cl, size_t end, const pgr_writer_t *result,
                                  char status);

/* A Query whose every statement is a pgrouter.* setting: answered (true) with status. */
bool pgr_pgrvar_answer_query(pgr_client_t *cl, const pgr_classification_t *c, char status);
/* The pgrouter.* statement a Parse at f prepares, or NULL. */
const pgr_stmt_info_t *pgr_pgrvar_parse(pgr_client_t *cl, const pgr_frame_t *f);
/* The pgrouter.* statement a Bind or Describe at f names (recorded when its Parse was answered
 * here), or NULL. */
const pgr_stmt_info_t *pgr_pgrvar_local_stmt(pgr_client_t *cl, const pgr_frame_t *f);
/* Answer the batch of the pgrouter.* statement st (its Parse at f, which a named one records):
 * as pgr_pgrvar_answer_stmt. */
pgr_dispatch_t pgr_pgrvar_answer_parse(pgr_client_t *cl, const pgr_frame_t *f,
                                                const pgr_stmt_info_t *st, char status);
/* Answer the extended batch of the pgrouter.* statement st: ANSWERED, WAIT until the Sync is
 * in, or ROUTE when the batch is more than that statement. */
pgr_dispatch_t pgr_pgrvar_answer_stmt(pgr_client_t *cl, const pgr_stmt_info_t *st,
                                                   char status);

#endif
