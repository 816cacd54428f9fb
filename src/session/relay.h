/* The relay: a linked client's messages go to its server connection and the server's bytes
 * come back unchanged. Only message headers are parsed on the hot path, plus the bodies of
 * ReadyForQuery (transaction status) and ParameterStatus; replies to pgrouter's own messages
 * (units, statements prepared on demand, a RESET's restore) are cut out of the stream.
 * Backpressure both ways: a full client output stops reading the server, a server that cannot
 * take more stops reading the client. Linking is link.c's. */
#ifndef PGR_SESSION_RELAY_H
#define PGR_SESSION_RELAY_H

#include "session/client.h"

/* New client bytes (or a newly linked server): frame, account and forward what is complete. */
void pgr_relay_client_input(pgr_client_t *cl);
/* The client's output drained: resume reading the server. */
void pgr_relay_client_drained(pgr_client_t *cl);
/* Write what is queued for the server until it would block. */
void pgr_relay_write(pgr_client_t *cl);
/* (Re)register the server connection's watch for what the relay waits for now. */
void pgr_relay_watch(pgr_client_t *cl);
/* The session has a transaction or statement in flight on its server connection. */
bool pgr_relay_busy(const pgr_client_t *cl);
/* Forward a cancel for the statement the session is running, if any. */
void pgr_relay_cancel(pgr_client_t *cl);

#endif
