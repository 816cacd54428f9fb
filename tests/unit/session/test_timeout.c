/* session/timeout: which of the session timeouts applies to a session as it is — a statement
 * out on the server (query_timeout), idle inside a transaction (idle_transaction_timeout), or
 * neither; and a timeout set to 0 never applies. */
#include "pgrouter/config.h"
#include "session/timeout.h"
#include "../harness.h"

#define Q PGR_TMO_QUERY
#define T PGR_TMO_IDLE_TXN
#define N PGR_TMO_NONE

TEST(which_timeout_applies)
{
    pgr_runtime_t rt = { 0 };
    pgr_client_t cl = { 0 };
    pgr_server_t *srv = (pgr_server_t *)&cl; /* never dereferenced: only its presence counts */

    rt.cfg = pgr_config_new_default();
    CHECK(rt.cfg != NULL);
    rt.cfg->pool.query_timeout_ms = 3000;
    rt.cfg->pool.idle_transaction_timeout_ms = 1000;
    cl.rt = &rt;
    cl.txn = 'I';

    cl.state = PGR_CLIENT_IDLE;
    CHECK_INT(pgr_timeout_kind(&cl), N);         /* between transactions */
    cl.held_begin = true;
    CHECK_INT(pgr_timeout_kind(&cl), T);         /* a BEGIN pgrouter holds */
    cl.admin = true;
    CHECK_INT(pgr_timeout_kind(&cl), N);         /* the admin console has no transactions */
    cl.admin = cl.held_begin = false;

    cl.state = PGR_CLIENT_LINKED;
    cl.srv = srv;
    CHECK_INT(pgr_timeout_kind(&cl), N);         /* linked, quiet, no transaction (session) */
    cl.pending_syncs = 1;
    CHECK_INT(pgr_timeout_kind(&cl), Q);         /* a statement out */
    cl.pending_syncs = 0;
    cl.unsynced = true;
    CHECK_INT(pgr_timeout_kind(&cl), Q);         /* an extended-protocol exchange, no Sync yet */
    cl.unsynced = false;
    cl.scan.hdr_len = 3;
    CHECK_INT(pgr_timeout_kind(&cl), Q);         /* in the middle of a server message */
    cl.scan.hdr_len = 0;
    cl.txn = 'T';
    CHECK_INT(pgr_timeout_kind(&cl), T);         /* idle in a transaction */
    cl.txn = 'E';
    CHECK_INT(pgr_timeout_kind(&cl), T);         /* idle in a failed one */
    cl.pending_syncs = 2;
    CHECK_INT(pgr_timeout_kind(&cl), Q);         /* busy inside one */

    /* Off (0) never applies. */
    rt.cfg->pool.query_timeout_ms = 0;
    CHECK_INT(pgr_timeout_kind(&cl), N);
    cl.pending_syncs = 0;
    CHECK_INT(pgr_timeout_kind(&cl), T);
    rt.cfg->pool.idle_transaction_timeout_ms = 0;
    CHECK_INT(pgr_timeout_kind(&cl), N);

    /* Waiting for a connection, or broadcasting: neither (acquire_timeout, broadcast.timeout). */
    rt.cfg->pool.query_timeout_ms = rt.cfg->pool.idle_transaction_timeout_ms = 1000;
    cl.pending_syncs = 1;
    cl.state = PGR_CLIENT_WAITING;
    CHECK_INT(pgr_timeout_kind(&cl), N);
    cl.state = PGR_CLIENT_BROADCAST;
    CHECK_INT(pgr_timeout_kind(&cl), N);
    pgr_config_free(rt.cfg);
}

int
main(void)
{
    return RUN(which_timeout_applies);
}
