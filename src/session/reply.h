/* Errors pgrouter answers a client's statement with, without a server, as a server would: the
 * ErrorResponse, the rest of the statement's messages skipped up to its Query or Sync, then
 * ReadyForQuery with the transaction status the client believes in. Used by every part of the
 * session that refuses a statement (dispatch, login, relay, multi, consistent). */
#ifndef PGR_SESSION_REPLY_H
#define PGR_SESSION_REPLY_H

#include "session/client.h"

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
