/* session/auth: trust, md5 and SCRAM-SHA-256 exchanges (RFC 7677 vector, a full exchange driven
 * by the test's own SCRAM client, wrong password, unknown user, malformed messages), verifiers,
 * cancel keys. */
#include "session/auth.h"
#include "session/cancel.h"
#include "scram_client.h"
#include "../harness.h"

/* RFC 7677 section 3 */
#define V_USER     "user"
#define V_PASS     "pencil"
#define V_CNONCE   "rOprNGfwEbeRWgbNEkqO"
#define V_SNONCE   "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_SALT     "W22ZaJ0SNY7soEsUEjb6gQ=="
#define V_C1       "n,,n=user,r=" V_CNONCE
#define V_S1       "r=" V_CNONCE V_SNONCE ",s=" V_SALT ",i=4096"
#define V_C2_WO    "c=biws,r=" V_CNONCE V_SNONCE
#define V_PROOF    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_C2       V_C2_WO ",p=" V_PROOF
#define V_S2       "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static pgr_auth_secret_t secret;

static void
init_secret(bool mock_derives)
{
    int rc = pgr_auth_secret_init(&secret, mock_derives);
    if (rc != 0)
        abort();
}

static bool
out_is(const pgr_auth_out_t *o, int32_t code, const char *data)
{
    size_t n = strlen(data);
    if (o->code != code || o->len != n || (n && memcmp(o->data, data, n) != 0)) {
        printf("# out: code %d len %zu data '%.*s', want code %d '%s'\n", o->code, o->len,
               (int)o->len, o->data ? (const char *)o->data : "", code, data);
        return false;
    }
    return true;
}

/* The verifier of V_PASS with the RFC's salt, as a config string. */
static char vector_verifier[PGR_SCRAM_VERIFIER_MAX];

static void
make_vector_verifier(void)
{
    uint8_t salt[32];
    pgr_scram_verifier_t v;
    int n = pgr_crypto_base64_decode(V_SALT, strlen(V_SALT), salt, sizeof(salt));
    if (n != 16 || pgr_auth_make_verifier(V_PASS, salt, (size_t)n, 4096, &v) != 0 ||
        pgr_auth_verifier_format(&v, vector_verifier, sizeof(vector_verifier)) < 0)
        abort();
}

static int
send_str(pgr_auth_t *a, const char *s, pgr_auth_out_t *o)
{
    return pgr_auth_sasl_response(a, (const uint8_t *)s, strlen(s), o);
}

/* ---- RFC 7677 ------------------------------------------------------------------------- */

/* The vector's ClientProof and ServerSignature recomputed from the primitives alone. */
TEST(rfc7677_vector_primitives)
{
    uint8_t salt[16], salted[32], ckey[32], stored[32], skey[32], csig[32], ssig[32], proof[32];
    char b64[64];
    const char *am = "n=user,r=" V_CNONCE "," V_S1 "," V_C2_WO;
    CHECK_INT(pgr_crypto_base64_decode(V_SALT, strlen(V_SALT), salt, sizeof(salt)), 16);
    CHECK_INT(pgr_crypto_pbkdf2_sha256(V_PASS, 6, salt, 16, 4096, salted), 0);
    CHECK_INT(pgr_crypto_hmac_sha256(salted, 32, "Client Key", 10, ckey), 0);
    CHECK_INT(pgr_crypto_sha256(ckey, 32, stored), 0);
    CHECK_INT(pgr_crypto_hmac_sha256(stored, 32, am, strlen(am), csig), 0);
    for (int i = 0; i < 32; i++)
        proof[i] = ckey[i] ^ csig[i];
    CHECK_INT(pgr_crypto_base64_encode(proof, 32, b64, sizeof(b64)), 44);
    CHECK_STR(b64, V_PROOF);
    CHECK_INT(pgr_crypto_hmac_sha256(salted, 32, "Server Key", 10, skey), 0);
    CHECK_INT(pgr_crypto_hmac_sha256(skey, 32, am, strlen(am), ssig), 0);
    CHECK_INT(pgr_crypto_base64_encode(ssig, 32, b64, sizeof(b64)), 44);
    CHECK_STR(b64, &V_S2[2]);
}

/* The server answers the vector's messages byte for byte (server nonce fixed by the hook). */
TEST(rfc7677_exchange)
{
    init_secret(false);
    make_vector_verifier();
    pgr_user_config_t u = {.name = V_USER, .scram_verifier = vector_verifier};
    pgr_auth_t a = {0};
    pgr_auth_out_t o;

    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_SCRAM, &u, V_USER, &secret, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(o.code, PGR_AUTH_REQ_SASL);
    CHECK_INT(o.len, 15);
    CHECK(o.len == 15 && memcmp(o.data, "SCRAM-SHA-256\0\0", 15) == 0);
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_SASL_INITIAL);
    pgr_auth_set_server_nonce(&a, V_SNONCE);

    CHECK_INT(pgr_auth_sasl_initial(&a, "SCRAM-SHA-256", (const uint8_t *)V_C1, strlen(V_C1), &o),
              PGR_AUTH_CONTINUE);
    CHECK(out_is(&o, PGR_AUTH_REQ_SASL_CONTINUE, V_S1));
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_SASL);

    CHECK_INT(send_str(&a, V_C2, &o), PGR_AUTH_OK);
    CHECK(out_is(&o, PGR_AUTH_REQ_SASL_FINAL, V_S2));
    CHECK_STR(pgr_auth_state_name(a.step), "DONE");
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_NONE);
    pgr_auth_free(&a);
}

/* ---- full exchanges with the test's client ---------------------------------------------- */

/* Run a whole SCRAM exchange as `username` with `password`; returns the final result and leaves
 * the object for inspection. *client_ok says whether the client accepted the server signature. */
static int
run_scram(pgr_auth_t *a, pgr_auth_method_t method, const pgr_user_config_t *u,
          const char *username, const char *password, bool *client_ok, char *server_first)
{
    pgr_auth_out_t o;
    tsc_t c;
    char buf[512];
    *client_ok = false;
    int rc = pgr_auth_begin(a, method, u, username, &secret, &o);
    if (rc != PGR_AUTH_CONTINUE || o.code != PGR_AUTH_REQ_SASL)
        return -100;
    int n = tsc_first(&c, "n,,", "fyko+d2lbbFgONRv9qkxdawL", buf, sizeof(buf));
    rc = pgr_auth_sasl_initial(a, "SCRAM-SHA-256", (const uint8_t *)buf, (size_t)n, &o);
    if (rc != PGR_AUTH_CONTINUE || o.code != PGR_AUTH_REQ_SASL_CONTINUE)
        return -101;
    if (server_first) {
        memcpy(server_first, o.data, o.len);
        server_first[o.len] = '\0';
    }
    n = tsc_final(&c, password, (const char *)o.data, o.len, NULL, buf, sizeof(buf));
    if (n < 0)
        return -102;
    rc = pgr_auth_sasl_response(a, (const uint8_t *)buf, (size_t)n, &o);
    if (rc == PGR_AUTH_OK)
        *client_ok = o.code == PGR_AUTH_REQ_SASL_FINAL && tsc_verify(&c, o.data, o.len);
    return rc;
}

TEST(scram_full_exchange_verifier_and_plaintext)
{
    init_secret(false);
    make_vector_verifier();
    pgr_user_config_t with_ver = {.name = V_USER, .scram_verifier = vector_verifier};
    pgr_user_config_t with_pw = {.name = "app", .password = "s3cret"};
    pgr_auth_t a = {0};
    bool ok;
    char sf[256];

    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &with_ver, V_USER, V_PASS, &ok, sf), PGR_AUTH_OK);
    CHECK(ok);
    CHECK(strstr(sf, ",s=" V_SALT ",i=4096") != NULL);
    /* server nonce: 18 random bytes in base64 = 24 characters after the client's */
    const char *r = sf + 2 + strlen("fyko+d2lbbFgONRv9qkxdawL");
    CHECK_INT(strchr(r, ',') - r, 24);
    pgr_auth_reset(&a);

    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &with_pw, "app", "s3cret", &ok, NULL), PGR_AUTH_OK);
    CHECK(ok);
    pgr_auth_reset(&a);

    /* two exchanges never reuse a server nonce */
    char sf2[256];
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &with_pw, "app", "s3cret", &ok, sf2), PGR_AUTH_OK);
    pgr_auth_reset(&a);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &with_pw, "app", "s3cret", &ok, sf), PGR_AUTH_OK);
    CHECK(strcmp(sf, sf2) != 0);
    pgr_auth_free(&a);
}

TEST(scram_wrong_password)
{
    init_secret(false);
    make_vector_verifier();
    pgr_user_config_t u = {.name = V_USER, .scram_verifier = vector_verifier};
    pgr_user_config_t p = {.name = "app", .password = "s3cret"};
    pgr_auth_t a = {0};
    bool ok;
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &u, V_USER, "pencil2", &ok, NULL), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"user\"");
    CHECK(a.detail == NULL);
    CHECK_STR(pgr_auth_state_name(a.step), "FAILED");
    pgr_auth_reset(&a);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &p, "app", "S3cret", &ok, NULL), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"app\"");
    pgr_auth_free(&a);
}

/* An unknown user walks the same steps, gets a stable salt and 4096 iterations, and fails only
 * at the proof with the same message as a wrong password. */
TEST(scram_unknown_user_mock)
{
    init_secret(true);
    pgr_auth_t a = {0};
    bool ok;
    char sf1[256], sf2[256], sf3[256];
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, NULL, "ghost", "whatever", &ok, sf1), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"ghost\"");
    pgr_auth_reset(&a);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, NULL, "ghost", "other", &ok, sf2), PGR_AUTH_FAIL);
    pgr_auth_reset(&a);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, NULL, "ghost2", "other", &ok, sf3), PGR_AUTH_FAIL);
    pgr_auth_reset(&a);
    char s1[64], s2[64], s3[64], i1[16];
    CHECK(tsc_attr(sf1, 's', s1, sizeof(s1)) && tsc_attr(sf2, 's', s2, sizeof(s2)) &&
          tsc_attr(sf3, 's', s3, sizeof(s3)) && tsc_attr(sf1, 'i', i1, sizeof(i1)));
    CHECK_STR(s1, s2);                /* same user, same salt, as a stored verifier would */
    CHECK(strcmp(s1, s3) != 0);       /* another user, another salt */
    CHECK_INT(strlen(s1), 24);        /* 16 bytes, as PostgreSQL's salts */
    CHECK_STR(i1, "4096");

    /* A plaintext-password user is served the same derived salt an unknown one would get. */
    pgr_user_config_t p = {.name = "ghost", .password = "pw"};
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &p, "ghost", "pw", &ok, sf2), PGR_AUTH_OK);
    CHECK(tsc_attr(sf2, 's', s2, sizeof(s2)));
    CHECK_STR(s1, s2);
    pgr_auth_reset(&a);

    /* Even the right proof for the mock salt fails: a user with only an md5 hash under SCRAM,
     * or with no secret at all, is doomed. */
    pgr_user_config_t md5only = {.name = "m", .md5 = "md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    pgr_user_config_t nothing = {.name = "n"};
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &md5only, "m", "x", &ok, NULL), PGR_AUTH_FAIL);
    CHECK_STR(a.message, "password authentication failed for user \"m\"");
    pgr_auth_reset(&a);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &nothing, "n", "", &ok, NULL), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    pgr_auth_free(&a);
}

/* SASLInitialResponse without data: an empty SASLContinue, then client-first in SASLResponse. */
TEST(scram_initial_without_data)
{
    init_secret(false);
    pgr_user_config_t p = {.name = "app", .password = "pw"};
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    tsc_t c;
    char buf[512];
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_SCRAM, &p, "app", &secret, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(pgr_auth_sasl_initial(&a, "SCRAM-SHA-256", NULL, 0, &o), PGR_AUTH_CONTINUE);
    CHECK(out_is(&o, PGR_AUTH_REQ_SASL_CONTINUE, ""));
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_SASL);
    int n = tsc_first(&c, "y,,", "abcdefgh", buf, sizeof(buf));
    CHECK_INT(pgr_auth_sasl_response(&a, (const uint8_t *)buf, (size_t)n, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(o.code, PGR_AUTH_REQ_SASL_CONTINUE);
    n = tsc_final(&c, "pw", (const char *)o.data, o.len, NULL, buf, sizeof(buf));
    CHECK(strncmp(buf, "c=eSws,", 7) == 0);
    CHECK_INT(pgr_auth_sasl_response(&a, (const uint8_t *)buf, (size_t)n, &o), PGR_AUTH_OK);
    CHECK(tsc_verify(&c, o.data, o.len));
    pgr_auth_free(&a);
}

/* ---- malformed SCRAM messages --------------------------------------------------------- */

/* Begin for "app" and send client-first; returns the sasl_initial result. */
static int
first_msg(pgr_auth_t *a, const char *mech, const char *msg, size_t len)
{
    pgr_auth_out_t o;
    pgr_user_config_t p = {.name = "app", .password = "pw"};
    if (pgr_auth_begin(a, PGR_AUTH_SCRAM, &p, "app", &secret, &o) != PGR_AUTH_CONTINUE)
        return -100;
    return pgr_auth_sasl_initial(a, mech, (const uint8_t *)msg, len, &o);
}

static void
check_first_fails(const char *msg, size_t len, const char *sqlstate, const char *message,
                  const char *detail, int line)
{
    pgr_auth_t a = {0};
    int rc = first_msg(&a, "SCRAM-SHA-256", msg, len);
    if (rc != PGR_AUTH_FAIL || strcmp(a.sqlstate ? a.sqlstate : "", sqlstate) != 0 ||
        strcmp(a.message ? a.message : "", message) != 0 ||
        (detail == NULL) != (a.detail == NULL) || (detail && strcmp(a.detail, detail) != 0)) {
        t_failed_checks++;
        printf("# FAIL line %d: rc %d sqlstate %s message '%s' detail '%s'\n", line, rc,
               a.sqlstate ? a.sqlstate : "-", a.message ? a.message : "-",
               a.detail ? a.detail : "-");
    }
    pgr_auth_free(&a);
}

#define FIRST_FAILS(msg, st, m, d) check_first_fails(msg, strlen(msg), st, m, d, __LINE__)

TEST(scram_malformed_client_first)
{
    init_secret(false);
    const char *M = "malformed SCRAM message";
    FIRST_FAILS("x,,n=,r=abc", "08P01", M, "Unexpected channel-binding flag \"'x'\".");
    FIRST_FAILS("n", "08P01", M, "Comma expected, but found character \"0x00\".");
    FIRST_FAILS("n;,n=,r=abc", "08P01", M, "Comma expected, but found character \"';'\".");
    FIRST_FAILS("n,n=,r=abc", "08P01", M, "Unexpected attribute \"'n'\" in client-first-message.");
    FIRST_FAILS("p=tls-server-end-point,,n=,r=abc", "08P01", M,
                "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM "
                "message includes channel binding data.");
    FIRST_FAILS("n,a=bob,n=,r=abc", "0A000",
                "client uses authorization identity, but it is not supported", NULL);
    FIRST_FAILS("n,,m=ext,n=,r=abc", "0A000", "client requires an unsupported SCRAM extension",
                NULL);
    FIRST_FAILS("n,,r=abc", "08P01", M, "Expected attribute \"n\" but found \"'r'\".");
    FIRST_FAILS("n,,n=", "08P01", M, "Expected attribute \"r\" but found \"0x00\".");
    FIRST_FAILS("n,,n=,rabc", "08P01", M, "Expected character \"=\" for attribute \"r\".");
    FIRST_FAILS("n,,n=,r=ab\x7f" "c", "08P01", "non-printable characters in SCRAM nonce", NULL);
    FIRST_FAILS("n,,n=,r=ab c", "08P01", "non-printable characters in SCRAM nonce", NULL);
    FIRST_FAILS("n,,n=,r=abc,1=x", "08P01", M,
                "Attribute expected, but found invalid character \"'1'\".");
    FIRST_FAILS("", "08P01", M, "The message is empty.");
    check_first_fails("n,,n=,r=a\0bc", 11, "08P01", M,
                      "Message length does not match input length.", __LINE__);

    /* optional extensions after the nonce are accepted and ignored */
    pgr_auth_t a = {0};
    CHECK_INT(first_msg(&a, "SCRAM-SHA-256", "n,,n=x,r=abc,x=1", 16), PGR_AUTH_CONTINUE);
    pgr_auth_free(&a);

    /* mechanisms other than SCRAM-SHA-256 (no -PLUS without TLS) */
    CHECK_INT(first_msg(&a, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc", 32),
              PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "08P01");
    CHECK_STR(a.message, "client selected an invalid SASL authentication mechanism");
    pgr_auth_free(&a);
    CHECK_INT(first_msg(&a, "PLAIN", "x", 1), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "08P01");
    pgr_auth_free(&a);
}

/* A good client-first, then the given client-final (or one built by the client with a nonce
 * override when final is NULL). */
static void
check_final_fails(const char *final, const char *nonce_override, const char *sqlstate,
                  const char *message, const char *detail, int line)
{
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    pgr_user_config_t p = {.name = "app", .password = "pw"};
    tsc_t c;
    char buf[512], msg[512];
    int rc = pgr_auth_begin(&a, PGR_AUTH_SCRAM, &p, "app", &secret, &o);
    int n = tsc_first(&c, "n,,", "cnonce", buf, sizeof(buf));
    rc = pgr_auth_sasl_initial(&a, "SCRAM-SHA-256", (const uint8_t *)buf, (size_t)n, &o);
    if (rc == PGR_AUTH_CONTINUE) {
        n = tsc_final(&c, "pw", (const char *)o.data, o.len, nonce_override, buf, sizeof(buf));
        /* "$N" in final stands for the combined nonce */
        const char *src = final ? final : buf;
        char nonce[128];
        tsc_attr((const char *)o.data, 'r', nonce, sizeof(nonce));
        size_t k = 0;
        for (const char *s = src; *s && k < sizeof(msg) - 100; s++) {
            if (s[0] == '$' && s[1] == 'N') {
                k += (size_t)snprintf(msg + k, sizeof(msg) - k, "%s", nonce);
                s++;
            } else {
                msg[k++] = *s;
            }
        }
        msg[k] = '\0';
        rc = pgr_auth_sasl_response(&a, (const uint8_t *)msg, strlen(msg), &o);
    }
    if (rc != PGR_AUTH_FAIL || strcmp(a.sqlstate ? a.sqlstate : "", sqlstate) != 0 ||
        strcmp(a.message ? a.message : "", message) != 0 ||
        (detail == NULL) != (a.detail == NULL) || (detail && strcmp(a.detail, detail) != 0)) {
        t_failed_checks++;
        printf("# FAIL line %d: rc %d sqlstate %s message '%s' detail '%s'\n", line, rc,
               a.sqlstate ? a.sqlstate : "-", a.message ? a.message : "-",
               a.detail ? a.detail : "-");
    }
    pgr_auth_free(&a);
}

#define FINAL_FAILS(f, st, m, d) check_final_fails(f, NULL, st, m, d, __LINE__)

TEST(scram_malformed_client_final)
{
    init_secret(false);
    const char *M = "malformed SCRAM message";
    const char *P = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    char f[256];
    /* nonce mismatch, from a client that otherwise computes everything right */
    check_final_fails(NULL, "cnonceXXXXXXXXXXXXXXXXXXXXXXXX", "08P01", "invalid SCRAM response",
                      "Nonce does not match.", __LINE__);
    check_final_fails(NULL, "cnonce", "08P01", "invalid SCRAM response", "Nonce does not match.",
                      __LINE__);
    snprintf(f, sizeof(f), "c=biws,r=$N,p=%s", "not*base64");
    FINAL_FAILS(f, "08P01", M, "Malformed proof in client-final-message.");
    snprintf(f, sizeof(f), "c=biws,r=$N,p=%s", "Zm9vYmFy"); /* valid base64, 6 bytes */
    FINAL_FAILS(f, "08P01", M, "Malformed proof in client-final-message.");
    FINAL_FAILS("c=biws,r=$N", "08P01", M, "Attribute expected, but found end of string.");
    snprintf(f, sizeof(f), "c=eSws,r=$N,p=%s", P); /* y,, after an n,, header */
    FINAL_FAILS(f, "08P01", "unexpected SCRAM channel-binding attribute in client-final-message",
                NULL);
    snprintf(f, sizeof(f), "c=cD10bHM=,r=$N,p=%s", P);
    FINAL_FAILS(f, "08P01", "unexpected SCRAM channel-binding attribute in client-final-message",
                NULL);
    snprintf(f, sizeof(f), "r=$N,p=%s", P);
    FINAL_FAILS(f, "08P01", M, "Expected attribute \"c\" but found \"'r'\".");
    snprintf(f, sizeof(f), "c=biws,p=%s", P);
    FINAL_FAILS(f, "08P01", M, "Expected attribute \"r\" but found \"'p'\".");
    snprintf(f, sizeof(f), "c=biws,r=$N,p=%s,x=1", P);
    FINAL_FAILS(f, "08P01", M, "Garbage found at the end of client-final-message.");
    FINAL_FAILS("", "08P01", M, "The message is empty.");
    /* well-formed with extensions before the proof, but a wrong proof: 28P01 */
    snprintf(f, sizeof(f), "c=biws,r=$N,x=ext,p=%s", P);
    FINAL_FAILS(f, "28P01", "password authentication failed for user \"app\"", NULL);
}

/* ---- md5 ------------------------------------------------------------------------------ */

/* The client's md5 response: "md5" + md5(md5(password + user) + salt). */
static void
md5_response(const char *password, const char *user, const uint8_t salt[4], char out[36])
{
    char inner[64], h[33];
    snprintf(inner, sizeof(inner), "%s%s", password, user);
    if (pgr_crypto_md5_hex(inner, strlen(inner), h) != 0)
        abort();
    memcpy(inner, h, 32);
    memcpy(inner + 32, salt, 4);
    memcpy(out, "md5", 3);
    if (pgr_crypto_md5_hex(inner, 36, out + 3) != 0)
        abort();
}

static int
run_md5(pgr_auth_t *a, const pgr_user_config_t *u, const char *user, const char *password)
{
    pgr_auth_out_t o;
    char resp[36];
    if (pgr_auth_begin(a, PGR_AUTH_MD5, u, user, &secret, &o) != PGR_AUTH_CONTINUE ||
        o.code != PGR_AUTH_REQ_MD5 || o.len != 4 || pgr_auth_expects(a) != PGR_AUTH_EXPECT_PASSWORD)
        return -100;
    md5_response(password, user, o.data, resp);
    int rc = pgr_auth_password(a, resp, &o);
    if (rc == PGR_AUTH_OK && !(o.code == PGR_AUTH_REQ_OK && o.len == 0))
        return -101;
    return rc;
}

TEST(md5_plaintext_and_stored_hash)
{
    init_secret(false);
    char stored[40] = "md5";
    CHECK_INT(pgr_crypto_md5_hex("md5_passmd5_user", 16, stored + 3), 0);
    pgr_user_config_t plain = {.name = "md5_user", .password = "md5_pass"};
    pgr_user_config_t hashed = {.name = "md5_user", .md5 = stored};
    pgr_auth_t a = {0};

    CHECK_INT(run_md5(&a, &plain, "md5_user", "md5_pass"), PGR_AUTH_OK);
    CHECK_STR(pgr_auth_state_name(a.step), "DONE");
    pgr_auth_reset(&a);
    CHECK_INT(run_md5(&a, &hashed, "md5_user", "md5_pass"), PGR_AUTH_OK);
    pgr_auth_reset(&a);

    CHECK_INT(run_md5(&a, &plain, "md5_user", "md5_pasS"), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"md5_user\"");
    pgr_auth_reset(&a);
    CHECK_INT(run_md5(&a, &hashed, "md5_user", "wrong"), PGR_AUTH_FAIL);
    CHECK_STR(a.message, "password authentication failed for user \"md5_user\"");
    pgr_auth_reset(&a);

    /* unknown user: the same challenge, the same failure */
    CHECK_INT(run_md5(&a, NULL, "nobody", "md5_pass"), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"nobody\"");
    pgr_auth_reset(&a);

    /* salts differ between exchanges */
    pgr_auth_out_t o1, o2;
    pgr_auth_t b = {0};
    uint8_t s1[4];
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_MD5, &plain, "md5_user", &secret, &o1),
              PGR_AUTH_CONTINUE);
    memcpy(s1, o1.data, 4);
    CHECK_INT(pgr_auth_begin(&b, PGR_AUTH_MD5, &plain, "md5_user", &secret, &o2),
              PGR_AUTH_CONTINUE);
    CHECK(memcmp(s1, o2.data, 4) != 0);

    /* garbage and empty responses */
    CHECK_INT(pgr_auth_password(&a, "md5", &o1), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_INT(pgr_auth_password(&b, "", &o2), PGR_AUTH_FAIL);
    CHECK_STR(b.sqlstate, "28P01");
    CHECK_STR(b.message, "empty password returned by client");
    pgr_auth_free(&a);
    pgr_auth_free(&b);
}

/* md5 with only a SCRAM verifier stored falls back to SCRAM, as PostgreSQL does. */
TEST(md5_falls_back_to_scram)
{
    init_secret(false);
    make_vector_verifier();
    pgr_user_config_t u = {.name = V_USER, .scram_verifier = vector_verifier};
    pgr_auth_t a = {0};
    bool ok;
    CHECK_INT(run_scram(&a, PGR_AUTH_MD5, &u, V_USER, V_PASS, &ok, NULL), PGR_AUTH_OK);
    CHECK(ok);
    pgr_auth_free(&a);
}

TEST(trust_and_unexpected_messages)
{
    init_secret(false);
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_TRUST, NULL, "anyone", &secret, &o), PGR_AUTH_OK);
    CHECK(out_is(&o, PGR_AUTH_REQ_OK, ""));
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_NONE);
    CHECK_INT(pgr_auth_password(&a, "x", &o), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "08P01");
    CHECK_INT(o.code, -1);
    pgr_auth_reset(&a);

    /* a PasswordMessage while SCRAM waits, a SASL message while md5 waits */
    pgr_user_config_t p = {.name = "app", .password = "pw"};
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_SCRAM, &p, "app", &secret, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(pgr_auth_password(&a, "pw", &o), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "08P01");
    pgr_auth_reset(&a);
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_MD5, &p, "app", &secret, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(send_str(&a, "c=biws", &o), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "08P01");
    pgr_auth_reset(&a);
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_SCRAM, &p, "app", &secret, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(send_str(&a, "n,,n=,r=x", &o), PGR_AUTH_FAIL); /* SASLResponse before initial */
    pgr_auth_free(&a);
    pgr_auth_free(&a); /* free of an EMPTY object is a no-op */
}

/* ---- verifiers ------------------------------------------------------------------------ */

TEST(verifier_round_trip)
{
    pgr_scram_verifier_t v, w;
    char s[PGR_SCRAM_VERIFIER_MAX], t[PGR_SCRAM_VERIFIER_MAX];
    /* pencil / RFC salt: the keys are fixed by the vector */
    make_vector_verifier();
    CHECK_STR(vector_verifier,
              "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
              "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
              "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    CHECK_INT(pgr_auth_verifier_parse(vector_verifier, &v), 0);
    CHECK_INT(v.iterations, 4096);
    CHECK_INT(v.salt_len, 16);
    CHECK_INT(pgr_auth_verifier_format(&v, s, sizeof(s)), strlen(vector_verifier));
    CHECK_STR(s, vector_verifier);

    /* random salt, other iteration counts, and a too-small buffer */
    CHECK_INT(pgr_auth_make_verifier("pw", NULL, 0, 10000, &w), 0);
    CHECK_INT(w.salt_len, PGR_SCRAM_SALT_LEN);
    int n = pgr_auth_verifier_format(&w, t, sizeof(t));
    CHECK(n > 0 && strncmp(t, "SCRAM-SHA-256$10000:", 20) == 0);
    CHECK_INT(pgr_auth_verifier_parse(t, &v), 0);
    CHECK(memcmp(&v.stored_key, &w.stored_key, 32) == 0 &&
          memcmp(&v.server_key, &w.server_key, 32) == 0 && v.iterations == 10000);
    CHECK_INT(pgr_auth_verifier_format(&w, t, (size_t)n), PGR_EINVAL);
    CHECK_INT(pgr_auth_make_verifier("pw", (const uint8_t *)"s", 1, 0, &w), PGR_EINVAL);
    CHECK_INT(pgr_auth_make_verifier("pw", (const uint8_t *)"s", 0, 4096, &w), PGR_EINVAL);
}

TEST(verifier_rejects)
{
    static const char *K = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
    static const char *bad[] = {
        "",
        "md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "scram-sha-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$4096x:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$ 4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K",
        "SCRAM-SHA-256$4096:$%K:%K",                       /* empty salt */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$%K:%K", /* bad base64 */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==%K:%K", /* no '$' */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K",   /* one key */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K:",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K:",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%K:%K ",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$Zm9vYmFy:%K", /* 6-byte key */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%KAAAA:%K",   /* 36-byte key */
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(bad); i++) {
        char s[512];
        size_t k = 0;
        for (const char *p = bad[i]; *p; p++) {
            if (p[0] == '%' && p[1] == 'K') {
                k += (size_t)snprintf(s + k, sizeof(s) - k, "%s", K);
                p++;
            } else {
                s[k++] = *p;
            }
        }
        s[k] = '\0';
        pgr_scram_verifier_t v;
        int rc = pgr_auth_verifier_parse(s, &v);
        if (rc != PGR_EINVAL)
            printf("# accepted bad verifier #%zu: %s\n", i, s);
        CHECK_INT(rc, PGR_EINVAL);
        CHECK_INT(v.iterations, 0); /* wiped */
    }
    pgr_scram_verifier_t v;
    CHECK_INT(pgr_auth_verifier_parse(NULL, &v), PGR_EINVAL);
}

/* A user whose configured verifier is broken is never let in, even with the "right" password. */
TEST(broken_verifier_is_doomed)
{
    init_secret(false);
    pgr_user_config_t u = {.name = "app", .scram_verifier = "SCRAM-SHA-256$4096:xx"};
    pgr_auth_t a = {0};
    bool ok;
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &u, "app", "", &ok, NULL), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    pgr_auth_free(&a);
}

/* The precomputable verifier of a plaintext user gives the same exchange as the plaintext. */
TEST(user_verifier_matches_plaintext)
{
    init_secret(false);
    pgr_scram_verifier_t v;
    char vs[PGR_SCRAM_VERIFIER_MAX], sf1[256], sf2[256], s1[64], s2[64];
    CHECK_INT(pgr_auth_user_verifier(&secret, "app", "s3cret", &v), 0);
    CHECK(pgr_auth_verifier_format(&v, vs, sizeof(vs)) > 0);
    pgr_user_config_t plain = {.name = "app", .password = "s3cret"};
    pgr_user_config_t stored = {.name = "app", .scram_verifier = vs};
    pgr_auth_t a = {0};
    bool ok;
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &plain, "app", "s3cret", &ok, sf1), PGR_AUTH_OK);
    pgr_auth_reset(&a);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &stored, "app", "s3cret", &ok, sf2), PGR_AUTH_OK);
    CHECK(ok);
    pgr_auth_reset(&a);
    CHECK(tsc_attr(sf1, 's', s1, sizeof(s1)) && tsc_attr(sf2, 's', s2, sizeof(s2)));
    CHECK_STR(s1, s2);
    /* another process secret, another salt */
    pgr_scram_verifier_t w;
    init_secret(false);
    CHECK_INT(pgr_auth_user_verifier(&secret, "app", "s3cret", &w), 0);
    CHECK(memcmp(v.salt, w.salt, PGR_SCRAM_SALT_LEN) != 0);
    CHECK_INT(run_scram(&a, PGR_AUTH_SCRAM, &stored, "app", "wrong", &ok, NULL), PGR_AUTH_FAIL);
    pgr_auth_free(&a);
}

/* SASLprep before hashing, as scram_build_secret: IX-\u2168 and IX-IX share a verifier; a
 * password that fails the profile is hashed as its own bytes. */
TEST(verifier_is_saslprepped)
{
    const uint8_t salt[] = "0123456789abcdef";
    pgr_scram_verifier_t a, b, c;
    CHECK_INT(pgr_auth_make_verifier("IX-\u2168", salt, 16, 4096, &a), 0);
    CHECK_INT(pgr_auth_make_verifier("IX-IX", salt, 16, 4096, &b), 0);
    CHECK_MEM(a.stored_key, b.stored_key, PGR_SHA256_LEN);
    CHECK_MEM(a.server_key, b.server_key, PGR_SHA256_LEN);
    CHECK_INT(pgr_auth_make_verifier("IX-\u2169", salt, 16, 4096, &c), 0);
    CHECK(memcmp(a.stored_key, c.stored_key, PGR_SHA256_LEN) != 0);
    CHECK_INT(pgr_auth_make_verifier("pw\ue000", salt, 16, 4096, &a), 0);
    CHECK_INT(pgr_auth_make_verifier("pw", salt, 16, 4096, &b), 0);
    CHECK(memcmp(a.stored_key, b.stored_key, PGR_SHA256_LEN) != 0);
}

/* A message the session refused (a SASL message over PGR_SASL_MESSAGE_MAX) fails the login as
 * a wrong password does. */
TEST(refuse_is_a_failed_login)
{
    init_secret(false);
    pgr_user_config_t u = {.name = "app", .password = "s3cret"};
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_SCRAM, &u, "app", &secret, &o), PGR_AUTH_CONTINUE);
    CHECK_INT(pgr_auth_refuse(&a, &o), PGR_AUTH_FAIL);
    CHECK_INT(o.code, -1);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"app\"");
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_NONE);
    pgr_auth_free(&a);
}

/* passthrough: a user kept in the database is asked for its cleartext password, which the
 * session checks elsewhere; a configured user gets SCRAM as under scram-sha-256. */
TEST(passthrough_cleartext)
{
    init_secret(false);
    pgr_auth_t a = {0};
    pgr_auth_out_t o;

    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_PASSTHROUGH, NULL, "dbuser", &secret, &o),
              PGR_AUTH_CONTINUE);
    CHECK_INT(o.code, PGR_AUTH_REQ_PASSWORD);
    CHECK_INT(o.len, 0);
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_PASSWORD);
    CHECK(pgr_auth_cleartext(&a) == NULL);
    CHECK_INT(pgr_auth_password(&a, "s3cret", &o), PGR_AUTH_VERIFY);
    CHECK_STR(pgr_auth_cleartext(&a), "s3cret");
    CHECK_INT(pgr_auth_expects(&a), PGR_AUTH_EXPECT_NONE);
    CHECK_INT(pgr_auth_verified(&a, NULL, NULL, &o), PGR_AUTH_OK);
    CHECK_INT(o.code, PGR_AUTH_REQ_OK);
    CHECK(pgr_auth_cleartext(&a) == NULL);
    pgr_auth_reset(&a);

    /* the node refused: its SQLSTATE and message */
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_PASSTHROUGH, NULL, "dbuser", &secret, &o),
              PGR_AUTH_CONTINUE);
    CHECK_INT(pgr_auth_password(&a, "wrong", &o), PGR_AUTH_VERIFY);
    CHECK_INT(pgr_auth_verified(&a, "28P01", "password authentication failed for user \"dbuser\"",
                                &o), PGR_AUTH_FAIL);
    CHECK_STR(a.sqlstate, "28P01");
    CHECK_STR(a.message, "password authentication failed for user \"dbuser\"");
    pgr_auth_reset(&a);

    /* an empty password never reaches a node, as PostgreSQL refuses it */
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_PASSTHROUGH, NULL, "dbuser", &secret, &o),
              PGR_AUTH_CONTINUE);
    CHECK_INT(pgr_auth_password(&a, "", &o), PGR_AUTH_FAIL);
    CHECK_STR(a.message, "empty password returned by client");
    pgr_auth_reset(&a);

    /* a configured user: SCRAM, no cleartext */
    pgr_user_config_t u = {.name = "app", .password = "s3cret"};
    CHECK_INT(pgr_auth_begin(&a, PGR_AUTH_PASSTHROUGH, &u, "app", &secret, &o),
              PGR_AUTH_CONTINUE);
    CHECK_INT(o.code, PGR_AUTH_REQ_SASL);
    CHECK_INT(pgr_auth_verified(&a, NULL, NULL, &o), PGR_AUTH_FAIL); /* not in VERIFY */
    pgr_auth_free(&a);
}

TEST(cancel_keys)
{
    int32_t pid1, key1, pid2, key2;
    CHECK_INT(pgr_auth_new_cancel_key(&pid1, &key1), 0);
    CHECK_INT(pgr_auth_new_cancel_key(&pid2, &key2), 0);
    CHECK(pid1 > 0 && pid2 > 0);
    CHECK(pid1 != pid2 || key1 != key2);
    int positive = 0;
    for (int i = 0; i < 200; i++) {
        CHECK_INT(pgr_auth_new_cancel_key(&pid1, &key1), 0);
        positive += pid1 > 0;
    }
    CHECK_INT(positive, 200);
}

/* The instance id sits in the pid's low 10 bits; the pid stays positive, never has the
 * forwarded bit, and keeps 20 random bits of its own. */
TEST(cancel_pid_instance)
{
    static const int ids[] = { 0, 1, 2, 512, 1023 };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        uint32_t seen_or = 0, seen_and = 0xffffffffu;
        for (int k = 0; k < 200; k++) {
            int32_t pid, key;
            CHECK_INT(pgr_auth_new_cancel_key(&pid, &key), 0);
            int32_t p = pgr_cancel_pid_make((uint32_t)pid, ids[i]);
            CHECK(p >= 0);
            CHECK(((uint32_t)p & PGR_CANCEL_FORWARDED) == 0);
            CHECK_INT(pgr_cancel_pid_instance(p), ids[i]);
            CHECK_INT(pgr_cancel_pid_instance((int32_t)((uint32_t)p | PGR_CANCEL_FORWARDED)),
                      ids[i]);
            seen_or |= (uint32_t)p;
            seen_and &= (uint32_t)p;
        }
        /* every random bit varies over 200 draws (each stays put with chance 2^-199) */
        CHECK((seen_or & ~seen_and & ~(uint32_t)PGR_INSTANCE_MAX) == PGR_CANCEL_RANDOM_MASK);
    }
    CHECK_INT(pgr_cancel_pid_make(0x7fffffffu, 5), (int32_t)(PGR_CANCEL_RANDOM_MASK | 5));
    CHECK_INT(pgr_cancel_pid_make(0x3ff, 0), 0); /* no random bits: the caller draws again */
}

/* The cleartext password method (an hba file's `password` line): the password is checked
 * against the plaintext, the SCRAM verifier or the md5 hash the config holds. */
static int
run_cleartext(const pgr_user_config_t *u, const char *user, const char *password)
{
    pgr_auth_t a = {0};
    pgr_auth_out_t o;
    int rc = pgr_auth_begin(&a, PGR_AUTH_PASSWORD, u, user, &secret, &o);
    if (rc != PGR_AUTH_CONTINUE || !out_is(&o, PGR_AUTH_REQ_PASSWORD, "") ||
        pgr_auth_expects(&a) != PGR_AUTH_EXPECT_PASSWORD) {
        pgr_auth_free(&a);
        return -100;
    }
    rc = pgr_auth_password(&a, password, &o);
    if (rc == PGR_AUTH_OK && !(o.code == PGR_AUTH_REQ_OK && o.len == 0))
        rc = -101;
    if (rc == PGR_AUTH_FAIL && (strcmp(a.sqlstate, "28P01") != 0 ||
                                (strstr(a.message, "password authentication failed for user") ==
                                     NULL && strcmp(a.message, "empty password returned by "
                                                               "client") != 0)))
        rc = -102;
    pgr_auth_free(&a);
    return rc;
}

TEST(cleartext_password_against_every_kind_of_secret)
{
    init_secret(false);
    make_vector_verifier();
    char stored[40] = "md5";
    CHECK_INT(pgr_crypto_md5_hex("md5_passmd5_user", 16, stored + 3), 0);
    pgr_user_config_t plain = {.name = "app", .password = "s3cret"};
    pgr_user_config_t ver = {.name = V_USER, .scram_verifier = vector_verifier};
    pgr_user_config_t hashed = {.name = "md5_user", .md5 = stored};

    CHECK_INT(run_cleartext(&plain, "app", "s3cret"), PGR_AUTH_OK);
    CHECK_INT(run_cleartext(&plain, "app", "s3cret "), PGR_AUTH_FAIL);
    CHECK_INT(run_cleartext(&plain, "app", "s3cre"), PGR_AUTH_FAIL);
    CHECK_INT(run_cleartext(&ver, V_USER, V_PASS), PGR_AUTH_OK);
    CHECK_INT(run_cleartext(&ver, V_USER, "pencil2"), PGR_AUTH_FAIL);
    CHECK_INT(run_cleartext(&hashed, "md5_user", "md5_pass"), PGR_AUTH_OK);
    CHECK_INT(run_cleartext(&hashed, "md5_user", "md5_pasS"), PGR_AUTH_FAIL);
    /* The hash is the stored secret, not a password. */
    CHECK_INT(run_cleartext(&hashed, "md5_user", stored), PGR_AUTH_FAIL);
    CHECK_INT(run_cleartext(NULL, "ghost", "anything"), PGR_AUTH_FAIL);
    CHECK_INT(run_cleartext(&plain, "app", ""), PGR_AUTH_FAIL);
}

int
main(void)
{
    return RUN(rfc7677_vector_primitives, rfc7677_exchange,
               scram_full_exchange_verifier_and_plaintext, scram_wrong_password,
               scram_unknown_user_mock, scram_initial_without_data, scram_malformed_client_first,
               scram_malformed_client_final, md5_plaintext_and_stored_hash,
               md5_falls_back_to_scram, trust_and_unexpected_messages, verifier_round_trip,
               verifier_rejects, broken_verifier_is_doomed, user_verifier_matches_plaintext,
               verifier_is_saslprepped, refuse_is_a_failed_login, passthrough_cleartext,
               cancel_keys, cancel_pid_instance, cleartext_password_against_every_kind_of_secret);
}
