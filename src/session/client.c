/* Client sessions: the state machine (the one set_state() and its table of handlers and moves),
 * output to the client, accept, the conn callbacks and the close. The other parts of the client
 * module are client_startup.c, client_auth.c and client_admin.c (client_int.h); the byte relay
 * of a logged-in session is relay.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "protocol/writer.h"
#include "session/cancel.h"
#include "session/carry.h"
#include "session/client_int.h"
#include "session/dbauth.h"
#include "session/link.h"
#include "session/login.h"
#include "session/multi.h"
#include "session/relay.h"
#include "session/timeout.h"

static const char *const state_names[] = {
#define PGR_CLIENT_STATE_NAME(name, text) text,
    PGR_CLIENT_STATE_MAP(PGR_CLIENT_STATE_NAME)
#undef PGR_CLIENT_STATE_NAME
};

const char *
pgr_client_state_name(pgr_client_state_t s)
{
    return (size_t)s < PGR_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

/* ---- the state machine ------------------------------------------------------------------- */

static void idle_input(pgr_client_t *cl);
static void idle_drained(pgr_client_t *cl);
static void idle_cancel(pgr_client_t *cl);
static void broadcast_cancel(pgr_client_t *cl);

#define TO(s) (1u << PGR_CLIENT_##s)

/* Each state: what handles the client's input, the drain of its output and a CancelRequest
 * for it, and where it may go next. Nobody else writes cl->state; the modules below reach
 * these handlers through pgr_client_input() and pgr_client_cancel(). */
static const struct {
    void (*input)(pgr_client_t *cl);
    void (*drained)(pgr_client_t *cl);
    void (*cancel)(pgr_client_t *cl);
    unsigned next;
} states[] = {
    [PGR_CLIENT_STARTUP] = {pgr_client_startup_input, NULL, pgr_relay_cancel,
                            TO(AUTH) | TO(LOGIN) | TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_AUTH] = {pgr_client_auth_input, NULL, pgr_relay_cancel,
                         TO(LOGIN) | TO(IDLE) | TO(CLOSING)},
    /* Input waits until the login's server connection has told its settings. */
    [PGR_CLIENT_LOGIN] = {NULL, NULL, pgr_relay_cancel, TO(IDLE) | TO(LINKED) | TO(CLOSING)},
    [PGR_CLIENT_IDLE] = {idle_input, idle_drained, idle_cancel,
                         TO(WAITING) | TO(BROADCAST) | TO(CLOSING)},
    [PGR_CLIENT_WAITING] = {pgr_relay_client_input, NULL, pgr_relay_cancel,
                            TO(LINKED) | TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_LINKED] = {pgr_relay_client_input, pgr_relay_client_drained, pgr_relay_cancel,
                           TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_BROADCAST] = {pgr_multi_client_input, pgr_multi_drained, broadcast_cancel,
                              TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_CLOSING] = {NULL, NULL, NULL, 0},
};

#undef TO

bool
pgr_client_transition_allowed(pgr_client_state_t from, pgr_client_state_t to)
{
    return from == to || ((size_t)from < PGR_ARRAY_LEN(states) &&
                          (size_t)to < PGR_ARRAY_LEN(states) && (states[from].next >> to & 1u));
}

bool
pgr_client_set_state(pgr_client_t *cl, pgr_client_state_t s)
{
    if (cl->state == s)
        return true;
    if (!pgr_client_transition_allowed(cl->state, s)) {
        pgr_error("client", "client %llu: illegal state change %s -> %s refused",
                  (unsigned long long)cl->id, pgr_client_state_name(cl->state),
                  pgr_client_state_name(s));
        return false;
    }
    pgr_debug("client", "client %llu: %s -> %s", (unsigned long long)cl->id,
              pgr_client_state_name(cl->state), pgr_client_state_name(s));
    cl->state = s;
    return true;
}

static void
set_state(pgr_client_t *cl, pgr_client_state_t s)
{
    (void)pgr_client_set_state(cl, s);
}

/* ---- output helpers ------------------------------------------------------------------------ */

void
pgr_client_send_writer(pgr_client_t *cl, pgr_writer_t *w)
{
    if (w->err != 0) {
        pgr_error("client", "client %llu: cannot encode a message: %s", (unsigned long long)cl->id,
                  pgr_strerror(w->err));
        pgr_conn_close(&cl->conn, w->err);
        return;
    }
    if (w->len > 0 && pgr_conn_write(&cl->conn, w->buf, w->len) != 0)
        pgr_conn_close(&cl->conn, PGR_ELIMIT);
}

void
pgr_client_send_error(pgr_client_t *cl, const char *severity, const char *sqlstate,
                      const char *detail, const char *fmt, ...)
{
    char msg[1024];
    uint8_t buf[2048];
    pgr_writer_t w;
    va_list ap;
    bool notice = strcmp(severity, "WARNING") == 0 || strcmp(severity, "NOTICE") == 0;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pgr_writer_init_fixed(&w, buf, sizeof(buf));
    pgr_be_write_error(&w, notice, severity, sqlstate, msg, detail, NULL);
    pgr_client_send_writer(cl, &w);
    if (strcmp(severity, "FATAL") == 0) {
        pgr_info_rl("client", "client %llu (%s): FATAL %s: %s", (unsigned long long)cl->id,
                 pgr_conn_peer(&cl->conn), sqlstate, msg);
        pgr_client_close(cl, msg);
    }
}

void
pgr_client_bad_frame(pgr_client_t *cl, const pgr_frame_t *f, const char *fallback)
{
    cl->rt->stats.protocol_errors++;
    pgr_client_send_error(cl, "FATAL", f->sqlstate ? f->sqlstate : "08P01", NULL, "%s",
                          f->reason ? f->reason : fallback);
}

void
pgr_client_send_ready(pgr_client_t *cl, char status)
{
    uint8_t buf[8];
    pgr_writer_t w;

    pgr_writer_init_fixed(&w, buf, sizeof(buf));
    pgr_be_write_ready(&w, (uint8_t)status);
    pgr_client_send_writer(cl, &w);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void
client_free(pgr_client_t *cl)
{
    pgr_auth_free(&cl->auth);
    pgr_iobuf_free(&cl->to_srv);
    pgr_params_free(&cl->want);
    pgr_stmts_free(&cl->stmts);
    free(cl->extras);
    free(cl->held_msg);
    free(cl->units);
    free(cl->expect);
    free(cl->unnamed_parse);
    pgr_carry_forget(cl);
    free(cl->changes);
    pgr_multi_free(cl);
    pgr_notify_clear(&cl->notify);
    free(cl->user);
    free(cl->database);
    free(cl->application_name);
    free(cl->client_encoding);
    free(cl->startup_params);
    free(cl);
}

static void
handle_closed(pgr_client_t *cl)
{
    if (--cl->handles_open == 0)
        client_free(cl);
}

static void
timer_close_cb(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Everything but the conn: server connection, cancel key, list, timer. Once. */
static void
teardown(pgr_client_t *cl, const char *why)
{
    pgr_debug("client", "client %llu closing: %s", (unsigned long long)cl->id, why ? why : "");
    if (cl->bcast)
        pgr_multi_close(cl); /* a broadcast's node connections go back */
    pgr_link_detach(cl, true);
    pgr_dbauth_detach(cl);
    set_state(cl, PGR_CLIENT_CLOSING);
    if (cl->cancel_pid != 0)
        pgr_cancel_unregister(cl->rt, cl);
    pgr_list_remove(&cl->link);
    cl->rt->n_clients--;
    if (cl->reserved)
        cl->rt->n_reserved--;
    uv_timer_stop(&cl->timer);
    uv_close((uv_handle_t *)&cl->timer, timer_close_cb);
    cl->await_deadline = 0;
    uv_timer_stop(&cl->wait_timer);
    uv_close((uv_handle_t *)&cl->wait_timer, timer_close_cb);
    uv_timer_stop(&cl->tmo_timer);
    uv_close((uv_handle_t *)&cl->tmo_timer, timer_close_cb);
}

/* The conn closed: by us (state CLOSING already) or by the peer (EOF, reset, a write error). */
static void
conn_close_cb(pgr_conn_t *c, void *arg, int reason)
{
    pgr_client_t *cl = arg;

    (void)c;
    if (cl->state != PGR_CLIENT_CLOSING)
        teardown(cl, reason ? pgr_strerror(reason) : "client disconnected");
    handle_closed(cl);
}

void
pgr_client_close(pgr_client_t *cl, const char *why)
{
    if (cl->state == PGR_CLIENT_CLOSING)
        return;
    teardown(cl, why);
    pgr_conn_close_after_flush(&cl->conn, 0);
}

static void
login_timeout_cb(uv_timer_t *t)
{
    pgr_client_t *cl = t->data;

    cl->rt->stats.login_timeouts++;
    pgr_info_rl("client", "client %llu (%s): login timeout in state %s", (unsigned long long)cl->id,
             pgr_conn_peer(&cl->conn), pgr_client_state_name(cl->state));
    if (cl->state == PGR_CLIENT_STARTUP)
        pgr_client_close(cl, "login timeout");
    else
        pgr_client_send_error(cl, "FATAL", "08P01", NULL, "canceling authentication due to timeout");
}

static void client_read_cb(pgr_conn_t *c, void *arg);
static void client_drain_cb(pgr_conn_t *c, void *arg);

static const pgr_conn_cbs_t client_cbs = {
    .on_read = client_read_cb,
    .on_drain = client_drain_cb,
    .on_close = conn_close_cb,
};

void
pgr_client_accept(pgr_runtime_t *rt, uv_stream_t *server)
{
    pgr_client_t *cl = calloc(1, sizeof(*cl));
    int rc;

    if (cl == NULL) {
        pgr_error("client", "out of memory accepting a client");
        return;
    }
    cl->rt = rt;
    cl->id = ++rt->stats.clients_accepted;
    cl->txn = 'I';
    cl->rewrite = rt->cfg->pool.mode == PGR_POOL_TRANSACTION;
    pgr_iobuf_init(&cl->to_srv, 0);
    pgr_list_init(&cl->link);
    /* Whatever accept returns, the conn's on_close runs once later: memory is freed there. */
    cl->handles_open = 4;
    uv_timer_init(rt->loop, &cl->timer);
    uv_timer_init(rt->loop, &cl->wait_timer);
    uv_timer_init(rt->loop, &cl->tmo_timer);
    cl->timer.data = cl->wait_timer.data = cl->tmo_timer.data = cl;
    rc = pgr_conn_accept(server, &cl->conn, &client_cbs, cl);
    if (rc != 0) {
        pgr_warn_rl("client", "accept failed: %s", pgr_strerror(rc));
        set_state(cl, PGR_CLIENT_CLOSING);
        uv_close((uv_handle_t *)&cl->timer, timer_close_cb);
        uv_close((uv_handle_t *)&cl->wait_timer, timer_close_cb);
        uv_close((uv_handle_t *)&cl->tmo_timer, timer_close_cb);
        return;
    }
    pgr_list_push_back(&rt->clients, &cl->link);
    rt->n_clients++;
    /* calloc'd: the state is STARTUP (0) */
    /* Sessions on a reserved admin slot do not count against max_clients. */
    if (rt->shutting_down || (rt->cfg->listen.max_clients > 0 &&
                              rt->n_clients - rt->n_reserved >
                                  (size_t)rt->cfg->listen.max_clients)) {
        cl->refuse = true;
        rt->stats.clients_refused++;
    }
    if (rt->cfg->limits.login_timeout_ms > 0)
        uv_timer_start(&cl->timer, login_timeout_cb, (uint64_t)rt->cfg->limits.login_timeout_ms, 0);
    pgr_conn_read_start(&cl->conn);
}

/* ---- conn callbacks ------------------------------------------------------------------------ */

/* IDLE: an admin-console session runs its command; any other's input starts a transaction. */
static void
idle_input(pgr_client_t *cl)
{
    if (cl->admin)
        pgr_client_admin_input(cl);
    else
        pgr_relay_client_input(cl);
}

/* IDLE: an admin-console session's output drained: events queued for it go out now. */
static void
idle_drained(pgr_client_t *cl)
{
    if (cl->admin)
        pgr_client_admin_deliver(cl);
}

/* IDLE: a statement waiting for a node's first health result ends with 57014; anything else
 * has nothing running (counted as ignored). */
static void
idle_cancel(pgr_client_t *cl)
{
    if (!pgr_login_cancel(cl))
        pgr_relay_cancel(cl);
}

static void
broadcast_cancel(pgr_client_t *cl)
{
    cl->rt->stats.cancels_forwarded++;
    pgr_multi_cancel(cl);
}

void
pgr_client_input(pgr_client_t *cl)
{
    if (states[cl->state].input)
        states[cl->state].input(cl);
}

void
pgr_client_cancel(pgr_client_t *cl)
{
    if (states[cl->state].cancel)
        states[cl->state].cancel(cl);
}

static void
client_read_cb(pgr_conn_t *c, void *arg)
{
    pgr_client_t *cl = arg;

    (void)c;
    pgr_client_input(cl);
    if (cl->state != PGR_CLIENT_CLOSING) {
        pgr_timeout_update(cl);
        pgr_conn_flush(&cl->conn);
    }
}

static void
client_drain_cb(pgr_conn_t *c, void *arg)
{
    pgr_client_t *cl = arg;

    (void)c;
    if (states[cl->state].drained)
        states[cl->state].drained(cl);
}

void
pgr_client_close_all(pgr_runtime_t *rt, const char *why, bool force)
{
    pgr_list_t *pos, *tmp;

    pgr_list_foreach_safe(pos, tmp, &rt->clients)
    {
        pgr_client_t *cl = pgr_container_of(pos, pgr_client_t, link);
        if (!force && pgr_relay_busy(cl))
            continue; /* its transaction may finish; relay.c closes it at the boundary */
        if (cl->state == PGR_CLIENT_STARTUP)
            pgr_client_close(cl, why);
        else
            pgr_client_send_error(cl, "FATAL", "57P01", NULL, "%s", why);
    }
}
