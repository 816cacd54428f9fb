/* The session timeouts: pool.query_timeout and pool.idle_transaction_timeout.
 *
 * query_timeout ends a session whose statement has been out on its server connection longer
 * than the limit since the client's last message (PgBouncer's rule): FATAL 08P01 "query
 * timeout", as PgBouncer says it; the statement is canceled on the node and the connection
 * closed (link.c, at the detach of a connection with work in flight).
 *
 * idle_transaction_timeout ends a session idle inside a transaction longer than the limit, with
 * PostgreSQL's own FATAL 25P03; its server connection is rolled back and goes back to the pool
 * (link.c), so a forgotten BEGIN does not hold a pool slot. */
#include "core/log.h"
#include "session/link.h"
#include "session/timeout.h"

static int64_t
limit_ms(const pgr_client_t *cl, pgr_tmo_kind_t k)
{
    const pgr_pool_config_t *p = &cl->rt->cfg->pool;
    return k == PGR_TMO_QUERY ? p->query_timeout_ms
           : k == PGR_TMO_IDLE_TXN ? p->idle_transaction_timeout_ms : 0;
}

pgr_tmo_kind_t
pgr_timeout_kind(const pgr_client_t *cl)
{
    pgr_tmo_kind_t k = PGR_TMO_NONE;

    if (cl->state == PGR_CLIENT_LINKED && cl->srv != NULL)
        k = !pgr_link_quiet(cl) ? PGR_TMO_QUERY : cl->txn != 'I' ? PGR_TMO_IDLE_TXN : PGR_TMO_NONE;
    else if (cl->state == PGR_CLIENT_IDLE && !cl->admin && cl->held_begin)
        k = PGR_TMO_IDLE_TXN; /* a BEGIN pgrouter answered, waiting for its first statement */
    return limit_ms(cl, k) > 0 ? k : PGR_TMO_NONE;
}

static void expired(uv_timer_t *t);

static void
arm(pgr_client_t *cl, pgr_tmo_kind_t k, uint64_t delay)
{
    cl->tmo_kind = k;
    if (k == PGR_TMO_NONE)
        uv_timer_stop(&cl->tmo_timer);
    else
        uv_timer_start(&cl->tmo_timer, expired, delay, 0);
}

void
pgr_timeout_update(pgr_client_t *cl)
{
    pgr_tmo_kind_t k;

    if (cl->state == PGR_CLIENT_CLOSING)
        return;
    k = pgr_timeout_kind(cl);
    if ((int)k != cl->tmo_kind)
        arm(cl, k, (uint64_t)limit_ms(cl, k));
}

static void
query_timed_out(pgr_client_t *cl)
{
    pgr_info_rl("client", "client %llu (%s): query timeout (%lld ms) on node %s",
                (unsigned long long)cl->id, pgr_conn_peer(&cl->conn),
                (long long)cl->rt->cfg->pool.query_timeout_ms, cl->node_id);
    cl->rt->stats.query_timeouts++;
    /* An ErrorResponse cannot go into the middle of a message the server is sending. */
    if (pgr_link_at_boundary(cl))
        pgr_client_send_error(cl, "FATAL", "08P01", NULL, "query timeout");
    else
        pgr_client_close(cl, "query timeout");
}

static void
idle_timed_out(pgr_client_t *cl)
{
    pgr_info_rl("client", "client %llu (%s): idle in transaction longer than %lld ms",
                (unsigned long long)cl->id, pgr_conn_peer(&cl->conn),
                (long long)cl->rt->cfg->pool.idle_transaction_timeout_ms);
    cl->rt->stats.idle_transaction_timeouts++;
    pgr_link_rollback(cl);
    pgr_client_send_error(cl, "FATAL", "25P03",
                          NULL, "terminating connection due to idle-in-transaction timeout");
}

static void
expired(uv_timer_t *t)
{
    pgr_client_t *cl = t->data;
    pgr_tmo_kind_t was = (pgr_tmo_kind_t)cl->tmo_kind, now = pgr_timeout_kind(cl);
    int64_t limit = limit_ms(cl, now);

    cl->tmo_kind = PGR_TMO_NONE;
    if (now != was || cl->state == PGR_CLIENT_CLOSING) {
        pgr_timeout_update(cl); /* the session moved on without telling: look again */
        return;
    }
    if (now == PGR_TMO_QUERY) {
        uint64_t quiet_for = uv_now(t->loop) - cl->last_request_ms;
        if (quiet_for < (uint64_t)limit) { /* the client spoke since: the clock restarts */
            arm(cl, now, (uint64_t)limit - quiet_for);
            return;
        }
        query_timed_out(cl);
        return;
    }
    idle_timed_out(cl);
}
