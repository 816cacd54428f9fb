/* The client's side of authentication: the exchange (session/auth) started for the method
 * auth.method or the hba line chose, a user kept in the database checked through session/dbauth,
 * the client's password messages decoded and the exchange's answers framed, and the login once
 * it succeeds. Part of the client module (client_int.h). */
#include <string.h>

#include "core/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "protocol/writer.h"
#include "session/client_int.h"
#include "session/dbauth.h"
#include "session/login.h"

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
void
pgr_client_auth_start(pgr_client_t *cl, pgr_auth_method_t method)
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

void
pgr_client_auth_input(pgr_client_t *cl)
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

static void
begin_login(pgr_client_t *cl)
{
    (void)pgr_client_set_state(cl, PGR_CLIENT_LOGIN);
    if (cl->admin)
        pgr_client_admin_login(cl);
    else
        pgr_login_begin(cl);
}
