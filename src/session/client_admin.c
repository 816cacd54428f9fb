/* An admin-console session (database "pgrouter"): who may log in, the login with pgrouter's
 * own settings and no server, its commands (simple Query, answered by ops/admin through the
 * runtime hook) and the pgrouter_events notifications queued for it. Part of the client module
 * (client_int.h). */
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/writer.h"
#include "session/cancel.h"
#include "session/client_int.h"

/* May this user use the admin console (a user in admin.users; anyone when auth.method is trust
 * and the list is empty)? */
bool
pgr_client_admin_allowed(const pgr_client_t *cl)
{
    const pgr_config_t *cfg = cl->rt->cfg;
    bool allowed = cfg->admin.n_users == 0 && cfg->auth.method == PGR_AUTH_TRUST;

    for (size_t i = 0; i < cfg->admin.n_users && !allowed; i++)
        allowed = strcmp(cfg->admin.users[i], cl->user) == 0;
    return allowed;
}

/* The admin console: no server behind it; pgrouter reports settings of its own. */
void
pgr_client_admin_login(pgr_client_t *cl)
{
    pgr_writer_t w;

    if (!pgr_client_admin_allowed(cl)) {
        pgr_client_send_error(cl, "FATAL", "28000", NULL,
                              "user \"%s\" is not an admin of the pgrouter console", cl->user);
        return;
    }
    if (pgr_cancel_register(cl->rt, cl) != 0) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return;
    }
    pgr_writer_init_grow(&w);
    pgr_be_write_param(&w, "server_version", "15.0 (pgrouter " PGR_VERSION ")");
    pgr_be_write_param(&w, "server_encoding", "UTF8");
    pgr_be_write_param(&w, "client_encoding", "UTF8");
    pgr_be_write_param(&w, "DateStyle", "ISO, MDY");
    pgr_be_write_param(&w, "integer_datetimes", "on");
    pgr_be_write_param(&w, "standard_conforming_strings", "on");
    pgr_be_write_param(&w, "application_name", cl->application_name ? cl->application_name : "");
    pgr_be_write_keydata(&w, cl->cancel_pid, cl->cancel_key);
    pgr_be_write_ready(&w, 'I');
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    uv_timer_stop(&cl->timer);
    (void)pgr_client_set_state(cl, PGR_CLIENT_IDLE);
}

/* Notifications waiting for an admin session go out while its client takes its output: at
 * most this much is queued on the conn beyond what it already holds; the rest waits for
 * on_drain. */
#define NOTIFY_OUT_HIGH ((size_t)64 * 1024)

void
pgr_client_admin_deliver(pgr_client_t *cl)
{
    size_t pending = pgr_conn_out_pending(&cl->conn);
    pgr_writer_t w;

    if (cl->admin_busy || cl->state != PGR_CLIENT_IDLE || !pgr_notify_pending(&cl->notify) ||
        pending >= NOTIFY_OUT_HIGH)
        return;
    pgr_writer_init_grow(&w);
    pgr_notify_take(&cl->notify, &w, (int32_t)getpid(), "pgrouter_events",
                    NOTIFY_OUT_HIGH - pending);
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    pgr_conn_flush(&cl->conn);
}

void
pgr_client_notify(pgr_client_t *cl, const char *payload)
{
    if (!cl->admin || cl->state == PGR_CLIENT_CLOSING)
        return;
    if (pgr_notify_push(&cl->notify, payload) != 0)
        pgr_debug("client", "client %llu: out of memory queueing an event",
                  (unsigned long long)cl->id);
    pgr_client_admin_deliver(cl);
}

/* One admin-console message: simple Query only. */
void
pgr_client_admin_input(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;
    pgr_writer_t w;

    while (cl->state == PGR_CLIENT_IDLE) {
        int rc = pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE)
            return;
        if (rc == PGR_FRAME_BAD) {
            pgr_client_send_error(cl, "FATAL", f.sqlstate ? f.sqlstate : "08P01", NULL, "%s",
                                  f.reason ? f.reason : "invalid message");
            return;
        }
        if (f.type == 'X') {
            pgr_client_close(cl, "client terminated");
            return;
        }
        pgr_writer_init_grow(&w);
        if (f.type == 'Q') {
            pgr_fe_query_t q;
            if (pgr_fe_query_decode(f.body, f.body_len, &q) != 0)
                pgr_be_write_error(&w, false, "ERROR", "08P01", "invalid Query message", NULL, NULL);
            else if (cl->rt->admin_execute == NULL)
                pgr_be_write_error(&w, false, "ERROR", "0A000", "the admin console is not available",
                                   NULL, NULL);
            else {
                /* Events the command itself causes (ADD NODE, RELOAD) follow its reply. */
                cl->admin_busy = true;
                if (cl->rt->admin_execute(cl->rt, q.sql, q.len, &w, &cl->admin_sess) != 0)
                    w.err = PGR_ENOMEM;
                cl->admin_busy = false;
            }
            /* As a PostgreSQL backend: notifications after the command's reply, before its
             * ReadyForQuery (as many as the output allows; the rest when it drains). */
            if (cl->admin_sess.listening) {
                size_t pending = pgr_conn_out_pending(&cl->conn) + w.len;
                if (pending < NOTIFY_OUT_HIGH)
                    pgr_notify_take(&cl->notify, &w, (int32_t)getpid(), "pgrouter_events",
                                    NOTIFY_OUT_HIGH - pending);
            } else {
                pgr_notify_clear(&cl->notify); /* UNLISTEN: what waited is not delivered */
            }
            pgr_be_write_ready(&w, 'I');
        } else if (f.type == 'S') {
            pgr_be_write_error(&w, false, "ERROR", "0A000",
                               "the admin console speaks the simple query protocol only", NULL, NULL);
            pgr_be_write_ready(&w, 'I');
        }
        pgr_iobuf_consume(in, f.len);
        pgr_client_send_writer(cl, &w);
        pgr_writer_free(&w);
    }
}
