/* The start of a transaction: what the first statement is decides where the transaction runs
 * (route/router), unless pgrouter answers it itself — SET / SHOW / RESET of pgrouter.* settings,
 * a malformed hint, a lone BEGIN (held, and sent with the next statement, which decides), or a
 * COMMIT/ROLLBACK of a held BEGIN that never got a statement. */
#ifndef PGR_SESSION_DISPATCH_H
#define PGR_SESSION_DISPATCH_H

#include "session/client.h"

typedef enum {
    PGR_DISPATCH_ANSWERED, /* the frame was consumed and answered; go on with the next one */
    PGR_DISPATCH_ROUTE,    /* cl->last_route names a node: acquire a connection there */
    PGR_DISPATCH_WAIT,     /* not enough input to decide yet, or the session waits for a
                              node's first health result (session/login resumes it) */
    PGR_DISPATCH_CLOSED,   /* the session ended */
} pgr_dispatch_t;

/* f is the first complete frame of a new transaction (no server linked). */
pgr_dispatch_t pgr_dispatch_begin(pgr_client_t *cl, const pgr_frame_t *f);

/* A Query, or a Parse ... Sync batch, inside a linked transaction that only touches pgrouter.*
 * settings is answered here: ANSWERED (consumed), WAIT (the batch is not all in yet), CLOSED,
 * or ROUTE (not such a statement: it goes to the server). */
pgr_dispatch_t pgr_dispatch_local(pgr_client_t *cl, const pgr_frame_t *f);





#endif
