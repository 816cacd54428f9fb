/* Checks session/auth against a secret PostgreSQL stored in pg_authid.rolpassword; driven by
 * test_auth_verifier.py, which reads the secret from a real node.
 *
 *   auth_verifier USER PASSWORD ROLPASSWORD
 *
 * For a SCRAM verifier: it must parse, format back to the same text, be re-derived byte for byte
 * from PASSWORD with its salt and iterations, let a full SCRAM exchange (session/auth's server
 * against the test client) succeed with PASSWORD, and fail with 28P01 for another password.
 * For an md5 hash: it must equal "md5" + md5(PASSWORD + USER), and an md5 exchange with the hash
 * stored must succeed with PASSWORD and fail for another.
 * Prints one line per check ("ok <check>" / "FAIL <check>: ..."); exits 0 only if all pass. */
#include <stdio.h>
#include <string.h>

#include "session/auth.h"
#include "scram_client.h"

static int failures;

static void
report(int ok, const char *check, const char *why)
{
    if (ok) {
        printf("ok %s\n", check);
    } else {
        printf("FAIL %s: %s\n", check, why);
        failures++;
    }
}

static int
scram_exchange(const pgr_auth_secret_t *secret, const pgr_user_config_t *u, const char *user,
               const char *password, bool *server_ok, const char **sqlstate_out)
{
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    tsc_t c;
    char buf[512];
    static char sqlstate[8];
    int rc = pgr_auth_begin(&a, PGR_AUTH_SCRAM, u, user, secret, &o);
    *server_ok = false;
    if (rc == PGR_AUTH_CONTINUE) {
        int n = tsc_first(&c, "n,,", "Gq9yq0Zx3y5hL2mQ", buf, sizeof(buf));
        rc = pgr_auth_sasl_initial(&a, "SCRAM-SHA-256", (const uint8_t *)buf, (size_t)n, &o);
    }
    if (rc == PGR_AUTH_CONTINUE) {
        int n = tsc_final(&c, password, (const char *)o.data, o.len, NULL, buf, sizeof(buf));
        rc = n < 0 ? -1 : pgr_auth_sasl_response(&a, (const uint8_t *)buf, (size_t)n, &o);
    }
    if (rc == PGR_AUTH_OK)
        *server_ok = tsc_verify(&c, o.data, o.len);
    snprintf(sqlstate, sizeof(sqlstate), "%s", a.sqlstate ? a.sqlstate : "");
    *sqlstate_out = sqlstate;
    pgr_auth_free(&a);
    return rc;
}

static void
check_scram(const pgr_auth_secret_t *secret, const char *user, const char *password,
            const char *stored)
{
    pgr_scram_verifier_t v, d;
    char s[PGR_SCRAM_VERIFIER_MAX];
    bool sig_ok;
    const char *sqlstate;

    int parsed = pgr_auth_verifier_parse(stored, &v) == 0;
    report(parsed, "scram-parse", stored);
    if (!parsed)
        return;
    report(pgr_auth_verifier_format(&v, s, sizeof(s)) > 0 && strcmp(s, stored) == 0,
           "scram-format-round-trip", s);
    int derived = pgr_auth_make_verifier(password, v.salt, v.salt_len, v.iterations, &d) == 0 &&
                  pgr_auth_verifier_format(&d, s, sizeof(s)) > 0;
    report(derived && strcmp(s, stored) == 0, "scram-derive-same-verifier", s);

    pgr_user_config_t u = {.name = (char *)user, .scram_verifier = (char *)stored};
    int rc = scram_exchange(secret, &u, user, password, &sig_ok, &sqlstate);
    report(rc == PGR_AUTH_OK && sig_ok, "scram-exchange-right-password",
           rc == PGR_AUTH_OK ? "server signature rejected by the client" : sqlstate);
    rc = scram_exchange(secret, &u, user, "not-the-password", &sig_ok, &sqlstate);
    report(rc == PGR_AUTH_FAIL && strcmp(sqlstate, "28P01") == 0,
           "scram-exchange-wrong-password", "wrong password was accepted");
}

static int
md5_exchange(const pgr_auth_secret_t *secret, const pgr_user_config_t *u, const char *user,
             const char *password)
{
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    char inner[64], h[33], resp[36];
    int rc = pgr_auth_begin(&a, PGR_AUTH_MD5, u, user, secret, &o);
    if (rc == PGR_AUTH_CONTINUE && o.code == PGR_AUTH_REQ_MD5 && o.len == 4) {
        snprintf(inner, sizeof(inner), "%s%s", password, user);
        if (pgr_crypto_md5_hex(inner, strlen(inner), h) != 0)
            rc = -1;
        memcpy(inner, h, 32);
        memcpy(inner + 32, o.data, 4);
        memcpy(resp, "md5", 3);
        if (rc >= 0 && pgr_crypto_md5_hex(inner, 36, resp + 3) != 0)
            rc = -1;
        if (rc >= 0)
            rc = pgr_auth_password(&a, resp, &o);
    }
    pgr_auth_free(&a);
    return rc;
}

static void
check_md5(const pgr_auth_secret_t *secret, const char *user, const char *password,
          const char *stored)
{
    char inner[256], want[36] = "md5";
    snprintf(inner, sizeof(inner), "%s%s", password, user);
    int ok = pgr_crypto_md5_hex(inner, strlen(inner), want + 3) == 0;
    report(ok && strcmp(want, stored) == 0, "md5-same-hash", want);
    pgr_user_config_t u = {.name = (char *)user, .md5 = (char *)stored};
    report(md5_exchange(secret, &u, user, password) == PGR_AUTH_OK, "md5-exchange-right-password",
           "rejected");
    report(md5_exchange(secret, &u, user, "not-the-password") == PGR_AUTH_FAIL,
           "md5-exchange-wrong-password", "accepted");
}

int
main(int argc, char **argv)
{
    pgr_auth_secret_t secret;
    if (argc != 4) {
        fprintf(stderr, "usage: %s USER PASSWORD ROLPASSWORD\n", argv[0]);
        return 2;
    }
    if (pgr_auth_secret_init(&secret, false) != 0) {
        fprintf(stderr, "no random bytes\n");
        return 2;
    }
    if (strncmp(argv[3], "SCRAM-SHA-256$", 14) == 0)
        check_scram(&secret, argv[1], argv[2], argv[3]);
    else if (strncmp(argv[3], "md5", 3) == 0)
        check_md5(&secret, argv[1], argv[2], argv[3]);
    else
        report(0, "secret-kind", "neither a SCRAM verifier nor an md5 hash");
    return failures ? 1 : 0;
}
