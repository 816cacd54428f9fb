/* The link between a client and one pooled server connection: acquiring it, attaching it (the
 * preamble that makes it fit the client: settings, a held BEGIN, DISCARD SEQUENCES after another
 * client's writes), and giving it back — at a transaction boundary in transaction mode, when the
 * client leaves otherwise — as the connection's ledger says (keep, reset, close). The bytes that
 * flow while linked are relay.c's; what statements do to the session is carry.c's. */
#include <string.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/writer.h"
#include "session/carry.h"
#include "session/link.h"
#include "session/relay.h"

/* ---- acquiring ------------------------------------------------------------------------ */

static void
acquire_cb(pgr_acquire_t *req, int status, pgr_server_t *srv, const char *errmsg, void *arg)
{
    pgr_client_t *cl = arg;
    pgr_link_acquired_cb cb = cl->acquired;

    (void)req;
    cl->acq = NULL;
    cl->acquired = NULL;
    cb(cl, status, srv, errmsg);
}

void
pgr_link_acquire(pgr_client_t *cl, pgr_link_acquired_cb cb)
{
    const pgr_user_config_t *u = pgr_config_find_user(cl->rt->cfg, cl->user);
    char msg[256];
    int rc;

    pgr_assert(cl->acq == NULL && cl->srv == NULL && cl->node_id != NULL);
    rc = 0;
    {
        cl->acquired = cb;
        rc = pgr_cluster_acquire(cl->rt->cluster, cl->node_id, cl->user, cl->database,
                                 u ? u->password : NULL, acquire_cb, cl, &cl->acq);
        if (rc == 0)
            return;
        cl->acquired = NULL;
    }
    snprintf(msg, sizeof(msg), "no server connection for node \"%s\": %s",
             cl->node_id ? cl->node_id : "(none)", pgr_strerror(rc));
    cb(cl, rc, NULL, msg);
}

/* ---- attach / detach ----------------------------------------------------------------------- */

bool
pgr_link_at_boundary(const pgr_client_t *cl)
{
    return cl->scan.hdr_len == 0 && cl->scan.remaining == 0;
}

bool
pgr_link_quiet(const pgr_client_t *cl)
{
    return pgr_link_at_boundary(cl) && cl->pending_syncs == 0 && !cl->unsynced && cl->fwd == 0 &&
           pgr_iobuf_len(&cl->to_srv) == 0 && cl->swallow == 0 && !cl->srv_write_blocked;
}

/* The server connection is at a transaction boundary with nothing in flight either way. */
bool
pgr_link_clean(const pgr_client_t *cl)
{
    return pgr_link_quiet(cl) && cl->txn == 'I';
}

/* The record of what srv has now, made from its login parameters the first time. */
pgr_srv_state_t *
pgr_link_server_state(pgr_server_t *srv)
{
    pgr_srv_state_t *st = pgr_server_get_data(srv);

    if (st)
        return st;
    if ((st = pgr_srv_state_new()) == NULL)
        return NULL;
    for (int i = 0; i < PGR_N_PARAMS; i++)
        if (pgr_params_set(&st->params, i, pgr_server_parameter(srv, pgr_params_name(i))) != 0) {
            pgr_srv_state_free(st);
            return NULL;
        }
    pgr_server_set_data(srv, st, pgr_srv_state_free);
    return st;
}

static bool
streq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int
pgr_link_own_unit(pgr_client_t *cl, uint64_t key, bool report)
{
    if (cl->n_units == cl->cap_units) {
        size_t cap = cl->cap_units ? cl->cap_units * 2 : 8;
        pgr_unit_t *u = realloc(cl->units, cap * sizeof(*u));
        if (u == NULL)
            return PGR_ENOMEM;
        cl->units = u;
        cl->cap_units = cap;
    }
    cl->units[cl->n_units++] = (pgr_unit_t){.key = key, .seg = cl->seg_sent, .report = report};
    cl->swallow++;
    cl->seg_sent++;
    return 0;
}

/* The ReadyForQuery of our oldest unit arrived: a statement it failed to prepare is not there. */
void
pgr_link_unit_done(pgr_client_t *cl)
{
    uint64_t key = cl->units_done < cl->n_units ? cl->units[cl->units_done++].key : 0;
    pgr_srv_state_t *st = cl->srv ? pgr_server_get_data(cl->srv) : NULL;

    if (cl->unit_failed && key && st)
        pgr_srv_state_forget(st, key);
    cl->unit_failed = false;
    if (cl->units_done == cl->n_units)
        cl->units_done = cl->n_units = 0;
    if (cl->swallow > 0)
        cl->swallow--;
}

/* Queue in to_srv what makes srv fit the client: SETs for settings that differ (RESET ALL first
 * when its startup settings differ from the connection's) and, in transaction mode, Parse for
 * every statement of the client's that srv lacks — each Parse its own unit, so one that fails
 * (an object missing on this node) does not take the others with it. Each unit ends in a
 * ReadyForQuery that the scanner swallows. Returns PGR_ENOMEM on failure. */
bool
pgr_link_put_settings(const pgr_client_t *cl, pgr_srv_state_t *st, pgr_writer_t *w)
{
    bool reset = !streq(st->extras, cl->extras);
    size_t start = w->len, mark;

    pgr_writer_begin(w, 'Q');
    mark = w->len;
    if (reset) {
        pgr_writer_put_bytes(w, "RESET ALL;", 10);
        if (cl->extras)
            pgr_writer_put_bytes(w, cl->extras, strlen(cl->extras));
        free(st->extras);
        st->extras = cl->extras ? strdup(cl->extras) : NULL;
        if (cl->extras && !st->extras)
            w->err = PGR_ENOMEM;
    }
    for (int i = 0; i < PGR_N_PARAMS; i++) {
        const char *want = cl->want.v[i];
        if (want && (reset || !streq(want, st->params.v[i])))
            pgr_state_put_set(w, pgr_params_name(i), want);
    }
    if (w->len == mark) {
        w->len = start; /* nothing to set: no Query (the open message is dropped) */
        w->start = SIZE_MAX;
        return false;
    }
    pgr_writer_put_u8(w, 0);
    pgr_writer_finish(w);
    return true;
}

/* The settings part of what makes srv fit the client. Its prepared statements are prepared on
 * demand, right before the first Bind or Describe that needs one (prepare_on_demand). */
static int
build_preamble(pgr_client_t *cl, pgr_srv_state_t *st)
{
    pgr_writer_t w;

    pgr_writer_init_grow(&w);
    /* Another client's currval() / lastval() are not this one's. */
    if (cl->rewrite && st->sequences && st->last_client != cl->id) {
        pgr_fe_write_query(&w, "DISCARD SEQUENCES");
        if (pgr_link_own_unit(cl, 0, false) != 0)
            w.err = PGR_ENOMEM;
        st->sequences = false;
    }
    st->last_client = cl->id;
    if (pgr_link_put_settings(cl, st, &w) && pgr_link_own_unit(cl, 0, false) != 0)
        w.err = PGR_ENOMEM;
    int rc = w.err;
    if (rc == 0 && w.len > 0)
        rc = pgr_iobuf_append(&cl->to_srv, w.buf, w.len);
    pgr_writer_free(&w);
    return rc;
}

/* Every link field back to its unlinked value: what was queued for a server connection and
 * what was expected from it is dropped with it. */
static void
link_reset(pgr_client_t *cl)
{
    if (cl->fwd) {
        pgr_iobuf_consume(&cl->conn.in, cl->fwd);
        cl->fwd = 0;
    }
    pgr_iobuf_consume(&cl->to_srv, pgr_iobuf_len(&cl->to_srv));
    pgr_iobuf_trim(&cl->to_srv);
    cl->swallow = 0;
    cl->n_units = cl->units_done = 0;
    cl->unit_failed = false;
    cl->expect_head = cl->expect_len = 0;
    cl->seg_sent = cl->seg_done = 0;
    cl->seg_failed = false;
    pgr_carry_forget(cl);
    cl->ryw_capture = false;
    cl->srv_write_blocked = false;
    cl->srv_read_paused = false;
    cl->srv_ended = false;
    cl->unnamed_here = false;
}

/* The held BEGIN (session/dispatch), if any, goes to the server now: appended to to_srv, its
 * reply swallowed. */
static int
release_held(pgr_client_t *cl)
{
    int rc = 0;

    if (!cl->held_begin)
        return 0;
    pgr_assert(!cl->held_failed);
    rc = pgr_iobuf_append(&cl->to_srv, cl->held_msg, cl->held_len);
    if (rc == 0)
        rc = pgr_link_own_unit(cl, 0, false);
    free(cl->held_msg);
    cl->held_msg = NULL;
    cl->held_len = 0;
    cl->held_begin = false;
    /* The server is in the transaction from here: its ReadyForQuery is ours (cut), and what the
     * client sends next is inside it (a SET there is not carried, session/carry). */
    cl->txn = 'T';
    return rc;
}

/* The session lands on srv (whose record is st) for the first time since a login answered
 * without a server: tell the client, as ParameterStatus, the settings its login could not, and
 * carry the tracked ones from now on. 0, or PGR_ENOMEM. */
static int
report_later(pgr_client_t *cl, pgr_server_t *srv, const pgr_srv_state_t *st)
{
    pgr_writer_t w;
    int rc;

    if (cl->unreported == 0)
        return 0;
    pgr_writer_init_grow(&w);
    for (size_t i = 0; i < PGR_N_REPORTED_PARAMS; i++) {
        const char *name = pgr_reported_params[i], *value;
        int k = pgr_params_index(name);
        if (!(cl->unreported & (1u << i)))
            continue;
        value = k >= 0 && st->params.v[k] ? st->params.v[k] : pgr_server_parameter(srv, name);
        if (value == NULL)
            continue;
        if (k >= 0 && !cl->want.v[k] && pgr_params_set(&cl->want, k, value) != 0)
            w.err = PGR_ENOMEM;
        pgr_be_write_param(&w, name, value);
    }
    cl->unreported = 0;
    rc = w.err;
    if (rc == 0)
        pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    return rc;
}

void
pgr_link_attach(pgr_client_t *cl, pgr_server_t *srv, bool login)
{
    pgr_srv_state_t *st;

    link_reset(cl);
    cl->srv = srv;
    cl->pending_syncs = 0;
    cl->unsynced = false;
    cl->txn = 'I';
    cl->login_preamble = login;
    cl->preamble_sqlstate[0] = '\0';
    memset(&cl->scan, 0, offsetof(pgr_scan_t, body));
    pgr_becheck_init(&cl->scan.check);
    pgr_client_set_state(cl, login ? PGR_CLIENT_LOGIN : PGR_CLIENT_LINKED);
    pgr_router_link(cl->rt->router, cl->node_id);
    if ((st = pgr_link_server_state(srv)) == NULL ||
        (!login && report_later(cl, srv, st) != 0) || build_preamble(cl, st) != 0 ||
        (!login && release_held(cl) != 0)) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return;
    }
    pgr_relay_watch(cl);
    if (cl->swallow > 0) {
        pgr_relay_write(cl);
        return;
    }
    if (login)
        pgr_client_login_done(cl, NULL, NULL);
}

void
pgr_link_detach(pgr_client_t *cl, bool closing)
{
    if (cl->acq) {
        pgr_cluster_acquire_cancel(cl->acq);
        cl->acq = NULL;
        cl->acquired = NULL;
    }
    if (cl->srv) {
        /* What the connection carries decides, from its ledger alone. */
        const char *why;
        pgr_release_t how;
        switch (pgr_srv_state_release(pgr_server_get_data(cl->srv), pgr_link_clean(cl),
                                      cl->rt->cfg->pool.mode == PGR_POOL_SESSION, &why)) {
        case PGR_LEDGER_KEEP:
            how = PGR_RELEASE_CLEAN;
            break;
        case PGR_LEDGER_RESET:
            how = PGR_RELEASE_RESET;
            cl->rt->stats.server_resets++;
            pgr_debug("link", "client %llu: server connection on node %s reset: %s",
                      (unsigned long long)cl->id, cl->node_id, why);
            break;
        case PGR_LEDGER_CLOSE:
        default:
            how = PGR_RELEASE_CLOSE;
            if (pgr_link_clean(cl))
                cl->rt->stats.server_closes_state++;
            else
                cl->rt->stats.server_closes_dirty++;
            pgr_debug("link", "client %llu: server connection on node %s closed: %s",
                      (unsigned long long)cl->id, cl->node_id, why);
            break;
        }
        /* The client left while its statement runs: stop it, since a backend busy without
         * writing does not notice that its connection was closed. */
        if (closing && how == PGR_RELEASE_CLOSE && (cl->pending_syncs > 0 || cl->unsynced))
            (void)pgr_server_cancel(cl->srv, 2000, NULL, NULL);
        if (how != PGR_RELEASE_CLOSE && !closing)
            cl->rt->stats.transactions++;
        pgr_router_unlink(cl->rt->router, cl->node_id);
        pgr_cluster_release(cl->srv, how);
        cl->srv = NULL;
    }
    link_reset(cl);
    if (!closing && cl->state != PGR_CLIENT_CLOSING)
        pgr_client_set_state(cl, PGR_CLIENT_IDLE);
}

void
pgr_link_rollback(pgr_client_t *cl)
{
    const char *why;

    if (cl->srv == NULL || !pgr_link_quiet(cl) || cl->txn == 'I' ||
        pgr_server_pending(cl->srv) > 0)
        return;
    /* The ledger decides as at a boundary: what it would close, it closes. */
    if (pgr_srv_state_release(pgr_server_get_data(cl->srv), true,
                              cl->rt->cfg->pool.mode == PGR_POOL_SESSION,
                              &why) == PGR_LEDGER_CLOSE)
        return;
    cl->rt->stats.server_resets++;
    pgr_debug("link", "client %llu: server connection on node %s rolled back and reset",
              (unsigned long long)cl->id, cl->node_id);
    pgr_router_unlink(cl->rt->router, cl->node_id);
    pgr_cluster_release(cl->srv, PGR_RELEASE_ROLLBACK);
    cl->srv = NULL;
}

/* After server output was handled: give the connection back at a transaction boundary. */
void
pgr_link_maybe_release(pgr_client_t *cl)
{
    if (cl->srv == NULL || cl->pinned || cl->rt->cfg->pool.mode != PGR_POOL_TRANSACTION)
        return;
    if (!pgr_link_clean(cl) || pgr_server_pending(cl->srv) > 0)
        return;
    if (!cl->txn_read && !cl->ryw_capture &&
        cl->rt->cfg->routing.read_your_writes == PGR_RYW_SESSION) {
        /* Read-your-writes: learn where the primary's WAL stands now that the write committed;
         * reads go only to replicas that have replayed that far. */
        uint8_t q[64];
        pgr_writer_t w;
        pgr_writer_init_fixed(&w, q, sizeof(q));
        pgr_fe_write_query(&w, "SELECT pg_current_wal_insert_lsn()");
        cl->ryw_capture = true;
        cl->txn_read = true;
        if (w.err || pgr_iobuf_append(&cl->to_srv, w.buf, w.len) != 0 ||
            pgr_link_own_unit(cl, 0, false) != 0) {
            pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
            return;
        }
        pgr_relay_write(cl);
        return;
    }
    pgr_link_detach(cl, false);
    if (cl->rt->shutting_down) {
        pgr_client_send_error(cl, "FATAL", "57P01", NULL,
                              "terminating connection due to administrator command");
        return;
    }
    /* The client may have pipelined its next transaction already. */
    if (pgr_iobuf_len(&cl->conn.in) > 0)
        pgr_client_input(cl);
}

