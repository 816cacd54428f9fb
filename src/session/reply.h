/* Errors pgrouter answers a client's statement with, without a server, as a server would: the
 * ErrorResponse, the rest of the statement's messages skipped up to its Query or Sync, then
 * ReadyForQuery with the transaction status the client believes in. Used by every part of the
 * session that refuses a statement (dispatch, login, relay, multi, consistent). */
#ifndef PGR_SESSION_REPLY_H
#define PGR_SESSION_REPLY_H

#include "session/client.h"

/* What became of the statement at the front of a client's input, for the parts that may answer
 * it without a server (dispatch, pgrvar, multi) and the input loop that asks them. */
typedef enum {
    PGR_DISPATCH_ANSWERED, /* the frame was consumed and answered; go on with the next one */
    PGR_DISPATCH_ROUTE,    /* cl->last_route names a node: acquire a connection there */
    PGR_DISPATCH_WAIT,     /* not enough input to decide yet, or the session waits for a
                              node's first health result (session/login resumes it) */
    PGR_DISPATCH_CLOSED,   /* the session ended */
} pgr_dispatch_t;

/* Answer the statement at the front of the input with an error, dropping what belongs to it up
 * to and including the next Query / Sync, then ReadyForQuery — as a server does. */
void pgr_reply_error(pgr_client_t *cl, const char *sqlstate, const char *message);
/* The same with the ReadyForQuery status given (a held BEGIN is left alone); true when the
 * client's Query / Sync / FunctionCall was in and ReadyForQuery was sent. */
bool pgr_reply_error_status(pgr_client_t *cl, const char *sqlstate, const char *message,
                            char status);
/* The transaction status the client believes in while no server is linked. */
char pgr_reply_idle_status(const pgr_client_t *cl);

#endif
