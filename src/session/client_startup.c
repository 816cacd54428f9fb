/* A session's start, before authentication: the untyped startup packets (SSLRequest and
 * GSSENCRequest with TLS when offered, direct TLS, CancelRequest, StartupMessage), the
 * StartupMessage's user, database and settings, max_clients, and auth.hba_file's decision. Part
 * of the client module (client_int.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hba.h"
#include "core/log.h"
#include "net/tls.h"
#include "protocol/frontend.h"
#include "protocol/writer.h"
#include "session/cancel.h"
#include "session/client_int.h"

static char *
dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
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
    if (cl->refuse && !cl->rt->shutting_down && cl->admin && pgr_client_admin_allowed(cl) &&
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
void
pgr_client_startup_input(pgr_client_t *cl)
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
            (void)pgr_client_set_state(cl, PGR_CLIENT_AUTH);
            pgr_client_auth_start(cl, method);
            /* A password message sent right behind the packet, as PostgreSQL takes it. */
            if (cl->state == PGR_CLIENT_AUTH)
                pgr_client_auth_input(cl);
            break;
        default:
            pgr_client_send_error(cl, "FATAL", "08P01", NULL, "invalid startup packet");
            return;
        }
    }
}
