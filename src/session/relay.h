/* The relay: a logged-in client's messages go to one pooled server connection and the server's
 * bytes come back unchanged. Only message headers are parsed on the hot path, plus the bodies of
 * ReadyForQuery (transaction status) and ParameterStatus. A server connection returns to its
 * pool only at ReadyForQuery 'I' with nothing outstanding (transaction mode), or when the client
 * leaves (session mode, pinned sessions); a connection in any other state is closed, never
 * reused. Backpressure both ways: a full client output stops reading the server, a server that
 * cannot take more stops reading the client. */
#ifndef PGR_SESSION_RELAY_H
#define PGR_SESSION_RELAY_H

#include "session/client.h"

typedef void (*pgr_relay_acquired_cb)(pgr_client_t *cl, int status, pgr_server_t *srv,
                                      const char *errmsg);

/* Ask the pool of the session's target node for a server connection; cb runs exactly once
 * (unless the session closes first, which cancels the request). */
void pgr_relay_acquire(pgr_client_t *cl, pgr_relay_acquired_cb cb);
/* Link srv to the session (state LINKED, or LOGIN when login) and start relaying its bytes,
 * after a preamble that gives srv the client's settings and statements. A login attach calls
 * pgr_client_login_done() once the preamble is through (at once when there is none). */
void pgr_relay_attach(pgr_client_t *cl, pgr_server_t *srv, bool login);
/* Give the server connection back (clean at a transaction boundary, else closed) and cancel a
 * pending acquire. closing: the client is going away. */
void pgr_relay_detach(pgr_client_t *cl, bool closing);
/* New client bytes (or a newly linked server): frame, account and forward what is complete. */
void pgr_relay_client_input(pgr_client_t *cl);
/* The client's output drained: resume reading the server. */
void pgr_relay_client_drained(pgr_client_t *cl);
/* One more unit of our own (ending in a Sync or Query) was queued for the server: its reply is
 * swallowed up to its ReadyForQuery. key: the statement it prepares (forgotten from the
 * connection's record if it fails), or 0. PGR_ENOMEM on failure. */
int pgr_relay_own_unit(pgr_client_t *cl, uint64_t key);
/* The record of what srv has now (made from its login parameters the first time), owned by
 * srv; NULL when out of memory. */
pgr_srv_state_t *pgr_relay_server_state(pgr_server_t *srv);
/* Append to w one Query with the SETs (RESET ALL first when the startup settings differ) that
 * give a connection whose record is st the client's settings, and update st; false (nothing
 * appended) when st already has them. Memory failure is w's sticky error. */
bool pgr_relay_put_settings(const pgr_client_t *cl, pgr_srv_state_t *st, pgr_writer_t *w);
/* The session has a transaction or statement in flight on its server connection. */
bool pgr_relay_busy(const pgr_client_t *cl);
/* Forward a cancel for the statement the session is running, if any. */
void pgr_relay_cancel(pgr_client_t *cl);

#endif
