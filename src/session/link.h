/* The link between a client and one pooled server connection (see link.c): acquire, attach,
 * give back. A server connection returns to its pool only at ReadyForQuery 'I' with nothing
 * outstanding (transaction mode, unpinned), or when the client leaves; how it goes back — as it
 * is, after DISCARD ALL, or closed — is decided by its ledger alone (session/state.h). */
#ifndef PGR_SESSION_LINK_H
#define PGR_SESSION_LINK_H

#include "session/client.h"

typedef void (*pgr_link_acquired_cb)(pgr_client_t *cl, int status, pgr_server_t *srv,
                                     const char *errmsg);

/* Ask the pool of the session's target node for a server connection; cb runs exactly once
 * (unless the session closes first, which cancels the request). */
void pgr_link_acquire(pgr_client_t *cl, pgr_link_acquired_cb cb);
/* Link srv to the session (state LINKED, or LOGIN when login) and start relaying its bytes,
 * after a preamble that gives srv the client's settings. A login attach calls
 * pgr_client_login_done() once the preamble is through (at once when there is none). */
void pgr_link_attach(pgr_client_t *cl, pgr_server_t *srv, bool login);
/* Give the server connection back as its ledger says and cancel a pending acquire; every link
 * field returns to its unlinked value. closing: the client is going away. */
void pgr_link_detach(pgr_client_t *cl, bool closing);
/* After server output was handled: give the connection back at a transaction boundary
 * (transaction mode, not pinned), first learning the commit's WAL position for
 * read-your-writes. */
void pgr_link_maybe_release(pgr_client_t *cl);

/* The session leaves idle inside a transaction (idle_transaction_timeout): give its server
 * connection back with PGR_RELEASE_ROLLBACK (ROLLBACK, then DISCARD ALL) unless its ledger
 * says close, or anything is in flight; then the connection is left for pgr_link_detach, which
 * closes it. */
void pgr_link_rollback(pgr_client_t *cl);

/* The scanner is between messages. */
bool pgr_link_at_boundary(const pgr_client_t *cl);
/* Nothing in flight either way on the server connection (its transaction status aside). */
bool pgr_link_quiet(const pgr_client_t *cl);
/* The server connection is at a transaction boundary with nothing in flight either way. */
bool pgr_link_clean(const pgr_client_t *cl);

/* One more unit of our own (one Query, or messages ending in a Sync) was queued for the
 * server, in the segment being sent: its replies are cut out of the client's stream, except its
 * ParameterStatus when report. key: the statement it prepares (forgotten from the connection's
 * record if it fails), or 0. PGR_ENOMEM on failure. */
int pgr_link_own_unit(pgr_client_t *cl, uint64_t key, bool report);
/* The ReadyForQuery of the oldest unit arrived. */
void pgr_link_unit_done(pgr_client_t *cl);

/* The ledger of srv (made from its login parameters the first time), owned by srv; NULL when
 * out of memory. */
pgr_srv_state_t *pgr_link_server_state(pgr_server_t *srv);
/* Append to w one Query with the SETs (RESET ALL first when the startup settings differ) that
 * give a connection whose ledger is st the client's settings, and update st; false (nothing
 * appended) when st already has them. Memory failure is w's sticky error. */
bool pgr_link_put_settings(const pgr_client_t *cl, pgr_srv_state_t *st, pgr_writer_t *w);

#endif
