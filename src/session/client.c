/* Client sessions: accept, startup packet, authentication, login, errors and close. The byte
 * relay of a logged-in session is in relay.c. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/hba.h"
#include "core/log.h"
#include "net/tls.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "session/cancel.h"
#include "session/carry.h"
#include "session/client.h"
#include "session/dbauth.h"
#include "session/dispatch.h"
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

static void startup_input(pgr_client_t *cl);
static void auth_input(pgr_client_t *cl);
static void idle_input(pgr_client_t *cl);
static void idle_drained(pgr_client_t *cl);

#define TO(s) (1u << PGR_CLIENT_##s)

/* Each state: what handles the client's input and the drain of its output, and where it may
 * go next. Nobody else writes cl->state. */
static const struct {
    void (*input)(pgr_client_t *cl);
    void (*drained)(pgr_client_t *cl);
    unsigned next;
} states[] = {
    [PGR_CLIENT_STARTUP] = {startup_input, NULL, TO(AUTH) | TO(LOGIN) | TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_AUTH] = {auth_input, NULL, TO(LOGIN) | TO(IDLE) | TO(CLOSING)},
    /* Input waits until the login's server connection has told its settings. */
    [PGR_CLIENT_LOGIN] = {NULL, NULL, TO(IDLE) | TO(LINKED) | TO(CLOSING)},
    [PGR_CLIENT_IDLE] = {idle_input, idle_drained, TO(WAITING) | TO(BROADCAST) | TO(CLOSING)},
    [PGR_CLIENT_WAITING] = {pgr_relay_client_input, NULL,
                            TO(LINKED) | TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_LINKED] = {pgr_relay_client_input, pgr_relay_client_drained,
                           TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_BROADCAST] = {pgr_relay_client_input, pgr_relay_client_drained,
                              TO(IDLE) | TO(CLOSING)},
    [PGR_CLIENT_CLOSING] = {NULL, NULL, 0},
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

/* ---- startup ------------------------------------------------------------------------------- */

static char *
dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void start_auth(pgr_client_t *cl, pgr_auth_method_t method);

/* May this user use the admin console (a user in admin.users; anyone when auth.method is trust
 * and the list is empty)? */
static bool
admin_allowed(const pgr_client_t *cl)
{
    const pgr_config_t *cfg = cl->rt->cfg;
    bool allowed = cfg->admin.n_users == 0 && cfg->auth.method == PGR_AUTH_TRUST;

    for (size_t i = 0; i < cfg->admin.n_users && !allowed; i++)
        allowed = strcmp(cfg->admin.users[i], cl->user) == 0;
    return allowed;
}

/* The client's address for an hba decision and PostgreSQL's messages: 127.0.0.1, ::1 (an
 * IPv4-mapped IPv6 address as IPv4), or [local] for a Unix socket. */
static void
client_address(pgr_client_t *cl, pgr_hba_client_t *hc, char *text, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    hc->local = pgr_conn_is_unix(&cl->conn);
    hc->family = 0;
    snprintf(text, cap, "%s", hc->local ? "[local]" : "?");
    if (hc->local || uv_tcp_getpeername(&cl->conn.h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        hc->family = 4;
        memcpy(hc->addr, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in6 *)&ss)->sin6_addr;
        hc->family = memcmp(a, v4mapped, 12) == 0 ? 4 : 6;
        memcpy(hc->addr, hc->family == 4 ? a + 12 : a, hc->family == 4 ? 4 : 16);
    }
    if (hc->family == 0 ||
        inet_ntop(hc->family == 4 ? AF_INET : AF_INET6, hc->addr, text, (socklen_t)cap) == NULL)
        snprintf(text, cap, "?");
}

/* auth.hba_file: the first line matching the connection decides its method; no line, or a
 * reject line, ends the session with PostgreSQL's own message (28000). A passthrough line
 * takes auth.method's exchange (pass-through authentication is not part of this build).
 * Returns false when the session was closed. */
static bool
hba_check(pgr_client_t *cl, pgr_auth_method_t *method)
{
    const pgr_hba_t *hba = cl->rt->cfg->auth.hba;
    pgr_hba_client_t hc = { .ssl = cl->conn.tls != NULL, .user = cl->user,
                            .database = cl->database };
    pgr_hba_method_t m;
    char host[INET6_ADDRSTRLEN + 8];
    int line;

    *method = cl->rt->cfg->auth.method;
    if (hba == NULL)
        return true;
    client_address(cl, &hc, host, sizeof(host));
    const char *enc = hc.ssl ? "SSL encryption" : "no encryption";
    if (!pgr_hba_match(hba, &hc, &m, &line)) {
        cl->rt->stats.auth_failures++;
        pgr_client_send_error(cl, "FATAL", "28000", NULL,
                              "no pg_hba.conf entry for host \"%s\", user \"%s\", database "
                              "\"%s\", %s", host, cl->user, cl->database, enc);
        return false;
    }
    pgr_debug("client", "client %llu: %s line %d: %s", (unsigned long long)cl->id,
              cl->rt->cfg->auth.hba_file, line, pgr_hba_method_name(m));
    switch (m) {
    case PGR_HBA_REJECT:
        cl->rt->stats.auth_failures++;
        pgr_client_send_error(cl, "FATAL", "28000", NULL,
                              "pg_hba.conf rejects connection for host \"%s\", user \"%s\", "
                              "database \"%s\", %s", host, cl->user, cl->database, enc);
        return false;
    case PGR_HBA_TRUST:
        *method = PGR_AUTH_TRUST;
        break;
    case PGR_HBA_MD5:
        *method = PGR_AUTH_MD5;
        break;
    case PGR_HBA_SCRAM:
        *method = PGR_AUTH_SCRAM;
        break;
    case PGR_HBA_PASSWORD:
        *method = PGR_AUTH_PASSWORD;
        break;
    case PGR_HBA_PASSTHROUGH:
        *method = PGR_AUTH_PASSTHROUGH;
        break;
    }
    return true;
}

/* A StartupMessage: the session's user, database and settings, and (in *method) the exchange
 * its hba line or auth.method chooses. Returns false when the session was closed. */
static bool
on_startup_message(pgr_client_t *cl, const pgr_frame_t *f, pgr_auth_method_t *method)
{
    pgr_fe_startup_t st;
    pgr_fe_param_iter_t it;
    const char *name, *value;
    int rc;

    rc = pgr_fe_startup_decode(f->body, f->body_len, &st);
    if (rc != 0) {
        pgr_client_send_error(cl, "FATAL", "08P01", NULL, "invalid startup packet layout: %s",
                              pgr_strerror(rc));
        return false;
    }
    switch (pgr_fe_startup_version(&st)) {
    case PGR_FE_VERSION_UNSUPPORTED:
        pgr_client_send_error(cl, "FATAL", "0A000", NULL,
                              "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
                              st.major, st.minor);
        return false;
    case PGR_FE_VERSION_NEGOTIATE: {
        pgr_writer_t w;
        pgr_writer_init_grow(&w);
        pgr_fe_startup_write_negotiate(&w, &st);
        pgr_client_send_writer(cl, &w);
        pgr_writer_free(&w);
        break;
    }
    case PGR_FE_VERSION_OK:
        break;
    }
    if (st.user == NULL || st.user[0] == '\0') {
        pgr_client_send_error(cl, "FATAL", "28000", NULL,
                              "no PostgreSQL user name specified in startup packet");
        return false;
    }
    cl->user = dupstr(st.user);
    cl->database = dupstr(st.database && st.database[0] ? st.database : st.user);
    cl->admin = cl->database && strcmp(cl->database, "pgrouter") == 0;
    cl->node_column = cl->rt->cfg->broadcast.node_column;
    cl->startup_params = malloc(st.params_len ? st.params_len : 1);
    if (cl->user == NULL || cl->database == NULL || cl->startup_params == NULL) {
        pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
        return false;
    }
    memcpy(cl->startup_params, st.params, st.params_len);
    cl->startup_params_len = st.params_len;
    pgr_fe_startup_params(&st, &it);
    while (pgr_fe_startup_param_next(&it, &name, &value)) {
        if (strcmp(name, "application_name") == 0) {
            free(cl->application_name);
            cl->application_name = dupstr(value);
        } else if (strcmp(name, "client_encoding") == 0) {
            free(cl->client_encoding);
            cl->client_encoding = dupstr(value);
        }
    }
    /* A client that names no application has none, as with PostgreSQL (not pgrouter's). */
    if (pgr_params_set(&cl->want, PGR_PARAM_APPLICATION_NAME,
                       cl->application_name ? cl->application_name : "") != 0)
        goto nomem;
    if (cl->client_encoding && strcasecmp(cl->client_encoding, "auto") != 0 &&
        pgr_params_set(&cl->want, PGR_PARAM_CLIENT_ENCODING, cl->client_encoding) != 0)
        goto nomem;
    const char *bad = NULL;
    cl->extras = pgr_state_startup_extras(cl->startup_params, cl->startup_params_len, &bad);
    if (bad) {
        pgr_client_send_error(cl, "FATAL", "42601", NULL, "%s", bad);
        return false;
    }
    /* Over max_clients, an admin-console login may take one of the reserved slots. */
    if (cl->refuse && !cl->rt->shutting_down && cl->admin && admin_allowed(cl) &&
        cl->rt->n_reserved < (size_t)cl->rt->cfg->admin.reserved_connections) {
        cl->refuse = false;
        cl->reserved = true;
        cl->rt->n_reserved++;
        cl->rt->stats.clients_refused--; /* counted at accept */
    }
    if (cl->refuse) {
        pgr_client_send_error(cl, "FATAL", cl->rt->shutting_down ? "57P03" : "53300", NULL,
                              cl->rt->shutting_down ? "the database system is shutting down"
                                                    : "sorry, too many clients already");
        return false;
    }
    return hba_check(cl, method);
nomem:
    pgr_client_send_error(cl, "FATAL", "53200", NULL, "out of memory");
    return false;
}

static void
on_cancel_request(pgr_client_t *cl, const pgr_frame_t *f)
{
    pgr_fe_cancel_t req;

    if (pgr_fe_cancel_decode(f->body, f->body_len, &req) == 0)
        pgr_cancel_request(cl->rt, req.pid, req.key);
    /* PostgreSQL answers a CancelRequest with nothing: it just closes. */
    pgr_client_close(cl, "cancel request");
}

/* SSLRequest (ssl) or GSSENCRequest: 'S' and a TLS handshake when a context exists, tls.mode
 * is not disable and the client is on TCP; else 'N', and the client goes on in the clear.
 * Bytes sent after the request, before reading our answer, are refused: they would be taken
 * as plaintext or as TLS, both wrong (CVE-2021-23222). Returns false when the session closed. */
static bool
on_encryption_request(pgr_client_t *cl, bool ssl)
{
    bool offer = ssl && cl->rt->tls != NULL && cl->rt->cfg->tls.mode != PGR_TLS_DISABLE &&
                 !pgr_conn_is_unix(&cl->conn);
    int rc;

    if (pgr_iobuf_len(&cl->conn.in) > 0) {
        cl->rt->stats.protocol_errors++;
        pgr_client_send_error(cl, "FATAL", "08P01", NULL,
                              "received unencrypted data after %s request",
                              ssl ? "SSL" : "GSSAPI encryption");
        return false;
    }
    if (cl->conn.tls != NULL) {
        cl->rt->stats.protocol_errors++;
        pgr_client_send_error(cl, "FATAL", "08P01", NULL,
                              "encryption request received over an encrypted connection");
        return false;
    }
    if (pgr_conn_write(&cl->conn, offer ? "S" : "N", 1) != 0) {
        pgr_client_close(cl, "write failed");
        return false;
    }
    if (offer && (rc = pgr_conn_start_tls(&cl->conn, cl->rt->tls)) != 0) {
        pgr_info_rl("client", "client %llu (%s): cannot start TLS: %s", (unsigned long long)cl->id,
                 pgr_conn_peer(&cl->conn), pgr_strerror(rc));
        pgr_client_close(cl, "TLS start failed");
        return false;
    }
    return true;
}

/* A TLS handshake record (content type 22, version 3.x) where a startup packet's length word
 * would be: a PostgreSQL 17 client with sslnegotiation=direct. */
static bool
starts_tls_record(const pgr_iobuf_t *in)
{
    const uint8_t *p = pgr_iobuf_data(in);
    return pgr_iobuf_len(in) >= 2 && p[0] == 0x16 && p[1] == 0x03;
}

/* Direct TLS: the handshake starts on the bytes already read, as after an SSLRequest's 'S'.
 * Where TLS is not offered the connection is closed, as PostgreSQL does, with nothing sent (a
 * TLS client cannot read a plaintext error). Returns false when the session closed. */
static bool
on_direct_tls(pgr_client_t *cl)
{
    int rc;

    if (cl->rt->tls == NULL || cl->rt->cfg->tls.mode == PGR_TLS_DISABLE ||
        pgr_conn_is_unix(&cl->conn)) {
        cl->rt->stats.protocol_errors++;
        pgr_info_rl("client", "client %llu (%s): direct TLS connection refused: TLS is not enabled",
                    (unsigned long long)cl->id, pgr_conn_peer(&cl->conn));
        pgr_client_close(cl, "direct TLS without TLS enabled");
        return false;
    }
    cl->direct_tls = true;
    if ((rc = pgr_conn_start_tls_direct(&cl->conn, cl->rt->tls)) != 0) {
        pgr_info_rl("client", "client %llu (%s): direct TLS handshake failed: %s",
                    (unsigned long long)cl->id, pgr_conn_peer(&cl->conn),
                    cl->conn.tls ? pgr_tls_error(cl->conn.tls) : pgr_strerror(rc));
        pgr_client_close(cl, "direct TLS handshake failed");
        return false;
    }
    return true;
}

/* The length word at the front of the input is outside what any startup packet can have. */
static bool
startup_length_bad(const pgr_iobuf_t *in)
{
    if (pgr_iobuf_len(in) < 4)
        return false;
    uint32_t n = pgr_be32(pgr_iobuf_data(in));
    return n < PGR_STARTUP_MIN || n > PGR_STARTUP_MAX;
}

/* Untyped startup forms, until a StartupMessage moves the session on. */
static void
startup_input(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;

    if (cl->conn.tls == NULL && starts_tls_record(in)) {
        (void)on_direct_tls(cl);
        return;
    }
    while (cl->state == PGR_CLIENT_STARTUP) {
        int rc = pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_STARTUP, NULL, &f);
        if (rc == PGR_FRAME_NEED_MORE)
            return;
        if (rc == PGR_FRAME_BAD && startup_length_bad(in)) {
            /* Not a startup packet at all (a Terminate sent before one, another protocol):
             * PostgreSQL only logs this and closes, with no ErrorResponse. */
            cl->rt->stats.protocol_errors++;
            pgr_info_rl("client", "client %llu (%s): invalid length of startup packet",
                     (unsigned long long)cl->id, pgr_conn_peer(&cl->conn));
            pgr_client_close(cl, "invalid length of startup packet");
            return;
        }
        if (rc == PGR_FRAME_BAD) {
            pgr_client_bad_frame(cl, &f, "invalid startup packet");
            return;
        }
        switch (f.startup) {
        case PGR_STARTUP_SSL:
        case PGR_STARTUP_GSSENC:
            pgr_iobuf_consume(in, f.len);
            if (!on_encryption_request(cl, f.startup == PGR_STARTUP_SSL))
                return;
            break;
        case PGR_STARTUP_CANCEL:
            on_cancel_request(cl, &f);
            return;
        case PGR_STARTUP_MESSAGE:
            /* As PgBouncer: tls.mode require holds for TCP clients; a Unix socket is local. */
            if (cl->rt->cfg->tls.mode == PGR_TLS_REQUIRE && cl->conn.tls == NULL &&
                !pgr_conn_is_unix(&cl->conn)) {
                pgr_client_send_error(cl, "FATAL", "28000", NULL, "SSL required");
                return;
            }
            /* As PostgreSQL 17: direct TLS needs ALPN, so that a TLS connection meant for
             * another protocol is never taken as PostgreSQL. */
            if (cl->direct_tls && !pgr_tls_alpn_postgresql(cl->conn.tls)) {
                cl->rt->stats.protocol_errors++;
                pgr_client_send_error(cl, "FATAL", "08P01", NULL,
                                      "received direct SSL connection request without ALPN "
                                      "protocol negotiation extension");
                return;
            }
            pgr_auth_method_t method;
            if (!on_startup_message(cl, &f, &method))
                return;
            /* Consumed before the exchange starts: a login that ends at once (trust, and no
             * node reachable) reads what follows the packet as the session's first statement. */
            pgr_iobuf_consume(in, f.len);
            set_state(cl, PGR_CLIENT_AUTH);
            start_auth(cl, method);
            /* A password message sent right behind the packet, as PostgreSQL takes it. */
            if (cl->state == PGR_CLIENT_AUTH)
                auth_input(cl);
            break;
        default:
            pgr_client_send_error(cl, "FATAL", "08P01", NULL, "invalid startup packet");
            return;
        }
    }
}

/* ---- authentication ------------------------------------------------------------------------ */

static void begin_login(pgr_client_t *cl);

void
pgr_client_auth_result(pgr_client_t *cl, int verdict, const pgr_auth_out_t *out)
{
    pgr_writer_t w;

    if (verdict < 0) {
        pgr_client_send_error(cl, "FATAL", "XX000", NULL, "authentication failed: %s",
                              pgr_strerror(verdict));
        return;
    }
    if (verdict == PGR_AUTH_FAIL) {
        cl->rt->stats.auth_failures++;
        if (cl->rt->cfg->auth.query_user)
            pgr_dbauth_forget(cl->rt, cl->user);
        pgr_client_send_error(cl, "FATAL", cl->auth.sqlstate, cl->auth.detail, "%s",
                              cl->auth.message);
        return;
    }
    if (verdict == PGR_AUTH_VERIFY) {
        int rc = pgr_dbauth_verify(cl);
        if (rc != 0)
            pgr_client_send_error(cl, "FATAL", "XX000", NULL, "authentication failed: %s",
                                  pgr_strerror(rc));
        return;
    }
    /* Grown: server-first repeats the client's nonce, which may be as long as its message
     * (PGR_AUTH_MESSAGE_MAX), as PostgreSQL allows. */
    pgr_writer_init_grow(&w);
    if (out->code == PGR_AUTHREQ_SASL) {
        /* out->data is the mechanism list: name\0 ... \0 */
        const char *mechs[4];
        int n = 0;
        for (size_t i = 0; i < out->len && out->data[i] && n < 4; n++) {
            mechs[n] = (const char *)out->data + i;
            i += strlen(mechs[n]) + 1;
        }
        pgr_be_write_auth_sasl(&w, mechs, n);
    } else if (out->code != 0 || verdict == PGR_AUTH_CONTINUE) {
        pgr_be_write_auth(&w, out->code, out->data, out->len);
    }
    if (verdict == PGR_AUTH_OK)
        pgr_be_write_auth(&w, 0, NULL, 0);
    pgr_client_send_writer(cl, &w);
    pgr_writer_free(&w);
    if (verdict == PGR_AUTH_OK && cl->state != PGR_CLIENT_CLOSING)
        begin_login(cl);
    /* Called from a node's answer too (session/dbauth), where no read callback flushes. A
     * client sends nothing before its next request, so no input waits here. */
    if (cl->state != PGR_CLIENT_CLOSING)
        pgr_conn_flush(&cl->conn);
}

/* Where a pass-through password may come from: over TLS, or (auth.passthrough_allow_plain:
 * loopback) from a Unix socket or a loopback address. */
static bool
cleartext_allowed(pgr_client_t *cl)
{
    return cl->conn.tls != NULL ||
           (cl->rt->cfg->auth.passthrough_allow_plain == PGR_PLAIN_LOOPBACK &&
            pgr_conn_is_local(&cl->conn));
}

/* The user is not in auth.users: check it against the database (session/dbauth), or start the
 * exchange as for an unknown user. */
static void
start_auth(pgr_client_t *cl, pgr_auth_method_t method)
{
    const pgr_config_t *cfg = cl->rt->cfg;
    const pgr_user_config_t *u = pgr_config_find_user(cfg, cl->user);
    int rc;

    cl->auth_method = method; /* auth.method, or what the hba line says */
    if (u == NULL && method == PGR_AUTH_PASSTHROUGH && !cleartext_allowed(cl)) {
        cl->rt->stats.auth_failures++;
        pgr_client_send_error(cl, "FATAL", "28000",
                              "auth.method passthrough asks for the password in clear text: "
                              "connect with TLS (sslmode=require), or allow local clients with "
                              "auth.passthrough_allow_plain: loopback.",
                              "pass-through authentication of user \"%s\" needs an encrypted "
                              "connection", cl->user);
        return;
    }
    if (u == NULL && cfg->auth.query_user &&
        (method == PGR_AUTH_SCRAM || method == PGR_AUTH_MD5)) {
        cl->auth_begun = true;
        if ((rc = pgr_dbauth_lookup(cl)) != 0)
            pgr_client_send_error(cl, "FATAL", "XX000", NULL,
                                  "authentication failed to start: %s", pgr_strerror(rc));
        return;
    }
    pgr_client_auth_begin(cl, u);
}

void
pgr_client_auth_begin(pgr_client_t *cl, const pgr_user_config_t *u)
{
    const pgr_config_t *cfg = cl->rt->cfg;
    pgr_auth_out_t out;
    int verdict;

    verdict = pgr_auth_begin(&cl->auth, cl->auth_method, u, cl->user, cl->rt->auth_secret, &out);
    if (verdict < 0) {
        pgr_client_send_error(cl, "FATAL", "XX000", NULL, "authentication failed to start: %s",
                              pgr_strerror(verdict));
        return;
    }
    cl->auth_begun = true;
    /* trust with a users list still refuses names it does not know, as a role that does not
     * exist would be refused by PostgreSQL. With no list, every name is passed on. */
    if (verdict == PGR_AUTH_OK && u == NULL && cfg->auth.n_users > 0) {
        pgr_client_send_error(cl, "FATAL", "28000", NULL, "role \"%s\" does not exist", cl->user);
        return;
    }
    if (verdict == PGR_AUTH_OK) {
        out.code = 0;
        verdict = PGR_AUTH_OK;
    }
    pgr_client_auth_result(cl, verdict, &out);
}

/* Hand one PasswordMessage-typed frame to the exchange, decoded as what it waits for. Returns
 * the exchange's verdict, or AUTH_MALFORMED (no pgr_auth_* result) when the message does not
 * decode as that. */
#define AUTH_MALFORMED 100
static int
auth_message(pgr_client_t *cl, const pgr_frame_t *f, pgr_auth_out_t *out)
{
    switch (pgr_auth_expects(&cl->auth)) {
    case PGR_AUTH_EXPECT_PASSWORD: {
        pgr_fe_password_t pw;
        if (pgr_fe_password_decode(f->body, f->body_len, &pw) != 0)
            return AUTH_MALFORMED;
        return pgr_auth_password(&cl->auth, pw.password, out);
    }
    case PGR_AUTH_EXPECT_SASL_INITIAL: {
        pgr_fe_sasl_initial_t si;
        if (pgr_fe_sasl_initial_decode(f->body, f->body_len, &si) != 0)
            return AUTH_MALFORMED;
        return pgr_auth_sasl_initial(&cl->auth, si.mechanism, si.data,
                                     si.len < 0 ? 0 : (size_t)si.len, out);
    }
    case PGR_AUTH_EXPECT_SASL: {
        pgr_fe_sasl_response_t sr;
        if (pgr_fe_sasl_response_decode(f->body, f->body_len, &sr) != 0)
            return AUTH_MALFORMED;
        return pgr_auth_sasl_response(&cl->auth, sr.data, sr.len, out);
    }
    default:
        return AUTH_MALFORMED;
    }
}

static void
auth_input(pgr_client_t *cl)
{
    pgr_iobuf_t *in = &cl->conn.in;
    pgr_frame_t f;
    pgr_frame_limits_t lim;
    pgr_auth_out_t out;
    int rc, verdict;

    while (cl->state == PGR_CLIENT_AUTH) {
        pgr_auth_expect_t expect = pgr_auth_expects(&cl->auth);
        if (expect == PGR_AUTH_EXPECT_NONE)
            return; /* a lookup or a password check is running: input waits for its end */
        bool sasl = expect == PGR_AUTH_EXPECT_SASL_INITIAL || expect == PGR_AUTH_EXPECT_SASL;
        pgr_frame_limits_default(&lim);
        if (sasl)
            lim.max_auth_size = PGR_SASL_MESSAGE_MAX;
        rc = pgr_frame_next(pgr_iobuf_data(in), pgr_iobuf_len(in), PGR_PHASE_FRONTEND, &lim, &f);
        if (rc == PGR_FRAME_NEED_MORE)
            return;
        if (rc == PGR_FRAME_BAD && sasl && f.type == 'p') {
            /* A SASL message of a length PostgreSQL does not read: as there, the length is
             * logged and the login fails as with a wrong password. */
            pgr_info_rl("client", "client %llu (%s): invalid message length",
                     (unsigned long long)cl->id, pgr_conn_peer(&cl->conn));
            verdict = pgr_auth_refuse(&cl->auth, &out);
            pgr_client_auth_result(cl, verdict, &out);
            return;
        }
        if (rc == PGR_FRAME_BAD || f.type != 'p') {
            cl->rt->stats.protocol_errors++;
            pgr_client_send_error(cl, "FATAL", "08P01", NULL,
                                  "expected password response, got message type %d", f.type);
            return;
        }
        memset(&out, 0, sizeof(out));
        verdict = auth_message(cl, &f, &out);
        if (verdict == AUTH_MALFORMED) {
            cl->rt->stats.protocol_errors++;
            pgr_client_send_error(cl, "FATAL", "08P01", NULL, "invalid password packet");
            return;
        }
        pgr_iobuf_consume(in, f.len);
        pgr_client_auth_result(cl, verdict, &out);
    }
}

/* ---- login --------------------------------------------------------------------------------- */

/* The admin console: no server behind it; pgrouter reports settings of its own. */
static void
admin_login(pgr_client_t *cl)
{
    pgr_writer_t w;

    if (!admin_allowed(cl)) {
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
    set_state(cl, PGR_CLIENT_IDLE);
}

/* Notifications waiting for an admin session go out while its client takes its output: at
 * most this much is queued on the conn beyond what it already holds; the rest waits for
 * on_drain. */
#define NOTIFY_OUT_HIGH ((size_t)64 * 1024)

static void
admin_deliver(pgr_client_t *cl)
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
    admin_deliver(cl);
}

/* One admin-console message: simple Query only. */
static void
admin_input(pgr_client_t *cl)
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

static void
begin_login(pgr_client_t *cl)
{
    set_state(cl, PGR_CLIENT_LOGIN);
    if (cl->admin)
        admin_login(cl);
    else
        pgr_login_begin(cl);
}

/* ---- conn callbacks ------------------------------------------------------------------------ */

/* IDLE: an admin-console session runs its command; any other's input starts a transaction. */
static void
idle_input(pgr_client_t *cl)
{
    if (cl->admin)
        admin_input(cl);
    else
        pgr_relay_client_input(cl);
}

/* IDLE: an admin-console session's output drained: events queued for it go out now. */
static void
idle_drained(pgr_client_t *cl)
{
    if (cl->admin)
        admin_deliver(cl);
}

static void
client_read_cb(pgr_conn_t *c, void *arg)
{
    pgr_client_t *cl = arg;

    (void)c;
    if (states[cl->state].input)
        states[cl->state].input(cl);
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
