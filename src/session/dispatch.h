/* The start of a transaction: what the first statement is decides where the transaction runs
 * (route/router), unless pgrouter answers it itself — SET / SHOW / RESET of pgrouter.* settings,
 * a malformed hint, a lone BEGIN (held, and sent with the next statement, which decides), or a
 * COMMIT/ROLLBACK of a held BEGIN that never got a statement. */
#ifndef PGR_SESSION_DISPATCH_H
#define PGR_SESSION_DISPATCH_H

#include "session/reply.h"

/* f is the first complete frame of a new transaction (no server linked). */
pgr_dispatch_t pgr_dispatch_begin(pgr_client_t *cl, const pgr_frame_t *f);

#endif
