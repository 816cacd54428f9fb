/* Inside the dispatch module, shared by its two files and by no other module: dispatch.c (the
 * decision, the held BEGIN) calls what dispatch_pgrvar.c (the pgrouter.* settings, and the
 * answer to an extended-protocol batch of one statement) provides. Other modules use
 * session/dispatch.h. */
#ifndef PGR_SESSION_DISPATCH_INT_H
#define PGR_SESSION_DISPATCH_INT_H

#include "route/classify.h"
#include "session/dispatch.h"

/* The end of the extended-protocol batch at the front of the input, when it is all about one
 * statement: ANSWERED with *end, WAIT until its Sync is in, ROUTE when it is more. */
pgr_dispatch_t pgr_dispatch_extended_batch(pgr_client_t *cl, size_t *end);
/* Answer input[0..end) (pgr_dispatch_extended_batch) as a server would, given the statement's
 * simple-protocol result and the transaction status after it; consumes the batch. */
void pgr_dispatch_answer_extended(pgr_client_t *cl, size_t end, const pgr_writer_t *result,
                                  char status);

/* A Query whose every statement is a pgrouter.* setting: answered (true) with status. */
bool pgr_dispatch_answer_pgrvars(pgr_client_t *cl, const pgr_classification_t *c, char status);
/* The pgrouter.* statement a Parse at f prepares, or NULL. */
const pgr_stmt_info_t *pgr_dispatch_parse_pgrvar(pgr_client_t *cl, const pgr_frame_t *f);
/* The pgrouter.* statement a Bind or Describe at f names (recorded when its Parse was answered
 * here), or NULL. */
const pgr_stmt_info_t *pgr_dispatch_local_stmt(pgr_client_t *cl, const pgr_frame_t *f);
/* Answer the batch of the pgrouter.* statement st (its Parse at f, which a named one records):
 * as pgr_dispatch_answer_pgrvar_extended. */
pgr_dispatch_t pgr_dispatch_answer_parse_pgrvar(pgr_client_t *cl, const pgr_frame_t *f,
                                                const pgr_stmt_info_t *st, char status);
/* Answer the extended batch of the pgrouter.* statement st: ANSWERED, WAIT until the Sync is
 * in, or ROUTE when the batch is more than that statement. */
pgr_dispatch_t pgr_dispatch_answer_pgrvar_extended(pgr_client_t *cl, const pgr_stmt_info_t *st,
                                                   char status);

#endif
