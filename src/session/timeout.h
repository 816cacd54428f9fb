/* The session timeouts, as PgBouncer's: pool.query_timeout (a statement out on the server
 * connection too long, counted from the client's last message) and
 * pool.idle_transaction_timeout (a session idle inside a transaction too long). One timer per
 * session (pgr_client_t.tmo_timer), armed for at most one of them at a time. */
#ifndef PGR_SESSION_TIMEOUT_H
#define PGR_SESSION_TIMEOUT_H

#include "session/client.h"

/* What the session's timer is armed for. */
typedef enum pgr_tmo_kind {
    PGR_TMO_NONE,
    PGR_TMO_QUERY,    /* a statement is out on the server connection */
    PGR_TMO_IDLE_TXN, /* idle inside a transaction (on a server connection, or a held BEGIN) */
} pgr_tmo_kind_t;

/* Which timeout applies to the session as it is now (pure: the state, the link, the config). */
pgr_tmo_kind_t pgr_timeout_kind(const pgr_client_t *cl);

/* Look again after the session moved (client input relayed, server output handled, the link
 * changed): arm the timer for what applies now, keep it armed when that has not changed (a
 * query's clock runs from the client's last message, cl->last_request_ms), or stop it. */
void pgr_timeout_update(pgr_client_t *cl);

#endif
