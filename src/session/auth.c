/* session/auth: the server side of client authentication (trust, md5, SCRAM-SHA-256 per RFC 5802
 * and 7677 as PostgreSQL implements it), with PostgreSQL's messages and SQLSTATEs and a mock
 * exchange for unknown users. Verifiers, salts and cancel keys are auth_secret.c (auth_int.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session/auth_int.h"

#define SCRAM_MECH        "SCRAM-SHA-256"
#define SCRAM_MECH_PLUS   "SCRAM-SHA-256-PLUS"
#define SCRAM_RAW_NONCE   18 /* random bytes in the server nonce, as PostgreSQL */
#define MALFORMED         "malformed SCRAM message"

static const char *const state_names[] = {
#define PGR_AUTH_STATE_NAME(name) #name,
    PGR_AUTH_STATE_MAP(PGR_AUTH_STATE_NAME)
#undef PGR_AUTH_STATE_NAME
};

const char *
pgr_auth_state_name(pgr_auth_state_t st)
{
    if ((size_t)st >= PGR_ARRAY_LEN(state_names))
        return "?";
    return state_names[st];
}

static void
set_step(pgr_auth_t *a, pgr_auth_state_t st)
{
    a->step = st;
}

static void
out_none(pgr_auth_out_t *out)
{
    out->code = -1;
    out->data = NULL;
    out->len = 0;
}

/* Point out at len bytes copied into the object's own buffer. */
static int
out_set(pgr_auth_t *a, pgr_auth_out_t *out, int32_t code, const void *data, size_t len)
{
    if (len > a->buf_cap) {
        size_t cap = len < 64 ? 64 : len;
        uint8_t *nb = malloc(cap);
        if (nb == NULL)
            return PGR_ENOMEM;
        pgr_crypto_wipe(a->buf, a->buf_cap);
        free(a->buf);
        a->buf = nb;
        a->buf_cap = cap;
    }
    if (len > 0)
        memcpy(a->buf, data, len);
    out->code = code;
    out->data = a->buf;
    out->len = len;
    return 0;
}

/* ---- failures ------------------------------------------------------------------------- */

/* Record a failure: sqlstate, a message and an optional detail (printf format). Returns
 * PGR_AUTH_FAIL, or PGR_ENOMEM when the text cannot be allocated. */
static int fail(pgr_auth_t *a, const char *sqlstate, const char *message, const char *dfmt, ...)
    PGR_PRINTF(4, 5);

static int
fail(pgr_auth_t *a, const char *sqlstate, const char *message, const char *dfmt, ...)
{
    free(a->message);
    free(a->detail);
    a->message = a->detail = NULL;
    a->sqlstate = sqlstate;
    set_step(a, PGR_AUTH_ST_FAILED);
    a->message = strdup(message);
    if (a->message == NULL)
        return PGR_ENOMEM;
    if (dfmt != NULL) {
        va_list ap;
        va_start(ap, dfmt);
        int n = vasprintf(&a->detail, dfmt, ap);
        va_end(ap);
        if (n < 0) {
            a->detail = NULL;
            return PGR_ENOMEM;
        }
    }
    return PGR_AUTH_FAIL;
}

/* The one message for a wrong password, an unknown user, or a user without a usable secret. */
static int
fail_password(pgr_auth_t *a)
{
    char *msg = NULL;
    if (asprintf(&msg, "password authentication failed for user \"%s\"", a->username) < 0)
        return PGR_ENOMEM;
    int rc = fail(a, "28P01", msg, NULL);
    free(msg);
    return rc;
}

/* A byte for an error detail: 'c' when printable, else 0xNN (PostgreSQL's sanitize_char). */
static const char *
show_char(char c, char buf[8])
{
    if (c >= 0x21 && c <= 0x7e)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", (unsigned char)c);
    return buf;
}

/* ---- begin ---------------------------------------------------------------------------- */

static bool
valid_md5_hash(const char *s)
{
    if (s == NULL || strncmp(s, "md5", 3) != 0 || strlen(s) != 3 + PGR_MD5_HEX_LEN)
        return false;
    for (const char *p = s + 3; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* md5: the response we expect is "md5" + md5(md5(password + user) + salt). The inner hash is
 * the stored one, or derived from the plaintext password, or (unknown user) from random bytes, so
 * every path costs the same two MD5s. */
static int
begin_md5(pgr_auth_t *a, const pgr_user_config_t *user, pgr_auth_out_t *out)
{
    char inner[PGR_MD5_HEX_LEN + 1 + 4];
    char *concat = NULL;
    int rc;

    if ((rc = pgr_tls_random(a->md5_salt, sizeof(a->md5_salt))) != 0)
        return rc;
    if (user != NULL && user->password != NULL) {
        if (asprintf(&concat, "%s%s", user->password, a->username) < 0)
            return PGR_ENOMEM;
        rc = pgr_crypto_md5_hex(concat, strlen(concat), inner);
        pgr_crypto_wipe(concat, strlen(concat));
        free(concat);
    } else if (user != NULL && valid_md5_hash(user->md5)) {
        memcpy(inner, user->md5 + 3, PGR_MD5_HEX_LEN + 1);
    } else {
        uint8_t junk[16];
        a->doomed = true;
        rc = pgr_tls_random(junk, sizeof(junk));
        if (rc == 0)
            rc = pgr_crypto_md5_hex(junk, sizeof(junk), inner);
    }
    if (rc == 0) {
        memcpy(inner + PGR_MD5_HEX_LEN, a->md5_salt, 4);
        memcpy(a->md5_expect, "md5", 3);
        rc = pgr_crypto_md5_hex(inner, PGR_MD5_HEX_LEN + 4, a->md5_expect + 3);
    }
    pgr_crypto_wipe(inner, sizeof(inner));
    if (rc != 0)
        return rc;
    if ((rc = out_set(a, out, PGR_AUTH_REQ_MD5, a->md5_salt, 4)) != 0)
        return rc;
    set_step(a, PGR_AUTH_ST_WAIT_MD5);
    return PGR_AUTH_CONTINUE;
}

/* SCRAM: the keys come from the stored verifier, or from the plaintext password and the derived
 * salt, or (unknown user, no usable secret) a mock with the derived salt that fails at the proof
 * check, as PostgreSQL's mock_scram_secret. */
static int
begin_scram(pgr_auth_t *a, const pgr_user_config_t *user, const pgr_auth_secret_t *secret,
            pgr_auth_out_t *out)
{
    static const char mechs[] = SCRAM_MECH "\0"; /* the list ends with an empty name */
    uint8_t salt[PGR_SCRAM_SALT_LEN];
    int rc;

    a->method = PGR_AUTH_SCRAM;
    if (user != NULL && user->scram_verifier != NULL &&
        pgr_auth_verifier_parse(user->scram_verifier, &a->ver) == 0) {
        /* stored verifier: no derivation */
    } else if (user != NULL && user->password != NULL) {
        if ((rc = pgr_auth_user_verifier(secret, a->username, user->password, &a->ver)) != 0)
            return rc;
    } else {
        a->doomed = true;
        if ((rc = pgr_auth_derived_salt(secret, a->username, salt)) != 0)
            return rc;
        if (secret->mock_derives) {
            /* Spend what deriving a real user's keys costs; the result is thrown away. */
            uint8_t junk[18];
            char pw[32];
            if ((rc = pgr_tls_random(junk, sizeof(junk))) != 0)
                return rc;
            if (pgr_crypto_base64_encode(junk, sizeof(junk), pw, sizeof(pw)) < 0)
                return PGR_EIO;
            rc = pgr_auth_make_verifier(pw, salt, sizeof(salt), PGR_SCRAM_ITERATIONS, &a->ver);
            pgr_crypto_wipe(pw, sizeof(pw));
            if (rc != 0)
                return rc;
        }
        memset(&a->ver, 0, sizeof(a->ver));
        memcpy(a->ver.salt, salt, sizeof(salt));
        a->ver.salt_len = sizeof(salt);
        a->ver.iterations = PGR_SCRAM_ITERATIONS;
    }
    if ((rc = out_set(a, out, PGR_AUTH_REQ_SASL, mechs, sizeof(mechs))) != 0)
        return rc;
    set_step(a, PGR_AUTH_ST_WAIT_INITIAL);
    return PGR_AUTH_CONTINUE;
}

int
pgr_auth_begin(pgr_auth_t *a, pgr_auth_method_t method, const pgr_user_config_t *user,
               const char *username, const pgr_auth_secret_t *secret, pgr_auth_out_t *out)
{
    pgr_assert(a->step == PGR_AUTH_ST_EMPTY && a->username == NULL);
    out_none(out);
    a->method = method;
    a->username = strdup(username);
    if (a->username == NULL)
        return PGR_ENOMEM;

    switch (method) {
    case PGR_AUTH_TRUST: {
        int rc = out_set(a, out, PGR_AUTH_REQ_OK, NULL, 0);
        if (rc != 0)
            return rc;
        set_step(a, PGR_AUTH_ST_DONE);
        return PGR_AUTH_OK;
    }
    case PGR_AUTH_MD5:
        /* Only a SCRAM verifier stored: md5 cannot work, so use SCRAM (as PostgreSQL does). */
        if (user != NULL && user->password == NULL && !valid_md5_hash(user->md5) &&
            user->scram_verifier != NULL)
            return begin_scram(a, user, secret, out);
        return begin_md5(a, user, out);
    case PGR_AUTH_SCRAM:
        return begin_scram(a, user, secret, out);
    case PGR_AUTH_PASSWORD:
    case PGR_AUTH_PASSTHROUGH: {
        if (method == PGR_AUTH_PASSWORD) {
            /* The secret stays the config's: the password is checked against it when it
             * comes. */
            a->user = user;
        } else if (user != NULL && user->password == NULL && user->scram_verifier == NULL &&
                   valid_md5_hash(user->md5)) {
            return begin_md5(a, user, out);
        } else if (user != NULL) {
            return begin_scram(a, user, secret, out);
        } else {
            a->passthrough = true; /* a user kept in the database: the session checks it */
        }
        int rc = out_set(a, out, PGR_AUTH_REQ_PASSWORD, NULL, 0);
        if (rc != 0)
            return rc;
        set_step(a, PGR_AUTH_ST_WAIT_PASSWORD);
        return PGR_AUTH_CONTINUE;
    }
    }
    pgr_assert(!"unknown auth method");
    return PGR_EINVAL;
}

pgr_auth_expect_t
pgr_auth_expects(const pgr_auth_t *a)
{
    switch (a->step) {
    case PGR_AUTH_ST_WAIT_MD5:
    case PGR_AUTH_ST_WAIT_PASSWORD:
        return PGR_AUTH_EXPECT_PASSWORD;
    case PGR_AUTH_ST_WAIT_INITIAL:
        return PGR_AUTH_EXPECT_SASL_INITIAL;
    case PGR_AUTH_ST_WAIT_FIRST:
    case PGR_AUTH_ST_WAIT_FINAL:
        return PGR_AUTH_EXPECT_SASL;
    default:
        return PGR_AUTH_EXPECT_NONE;
    }
}

void
pgr_auth_set_server_nonce(pgr_auth_t *a, const char *nonce)
{
    a->fixed_nonce = nonce;
}

/* A message the exchange did not ask for (the session should have asked pgr_auth_expects). */
static int
unexpected(pgr_auth_t *a, pgr_auth_out_t *out)
{
    out_none(out);
    return fail(a, "08P01", "unexpected authentication message", NULL);
}

const char *
pgr_auth_cleartext(const pgr_auth_t *a)
{
    return a->step == PGR_AUTH_ST_VERIFY ? a->cleartext : NULL;
}

int
pgr_auth_verified(pgr_auth_t *a, const char *sqlstate, const char *message, pgr_auth_out_t *out)
{
    if (a->step != PGR_AUTH_ST_VERIFY)
        return unexpected(a, out);
    out_none(out);
    if (sqlstate != NULL)
        return fail(a, sqlstate, message, NULL);
    int rc = out_set(a, out, PGR_AUTH_REQ_OK, NULL, 0);
    if (rc != 0)
        return rc;
    set_step(a, PGR_AUTH_ST_DONE);
    return PGR_AUTH_OK;
}

int
pgr_auth_refuse(pgr_auth_t *a, pgr_auth_out_t *out)
{
    out_none(out);
    return fail_password(a);
}

/* ---- md5 response --------------------------------------------------------------------- */

/* A cleartext password against what the config holds for the user: the password itself
 * (compared in constant time), its SCRAM verifier (derived again with the verifier's salt and
 * iterations) or its md5 hash. */
static bool
cleartext_ok(const pgr_auth_t *a, const char *password)
{
    const pgr_user_config_t *u = a->user;
    size_t n = strlen(password);
    bool ok = false;

    if (u == NULL)
        return false;
    if (u->password != NULL)
        return n == strlen(u->password) && pgr_crypto_memeq(password, u->password, n);
    if (u->scram_verifier != NULL) {
        pgr_scram_verifier_t want, got;
        if (pgr_auth_verifier_parse(u->scram_verifier, &want) == 0 &&
            pgr_auth_make_verifier(password, want.salt, want.salt_len, want.iterations,
                                   &got) == 0)
            ok = pgr_crypto_memeq(want.stored_key, got.stored_key, sizeof(got.stored_key)) &&
                 pgr_crypto_memeq(want.server_key, got.server_key, sizeof(got.server_key));
        pgr_crypto_wipe(&want, sizeof(want));
        pgr_crypto_wipe(&got, sizeof(got));
        return ok;
    }
    if (valid_md5_hash(u->md5)) {
        char *concat = NULL, hex[PGR_MD5_HEX_LEN + 1];
        if (asprintf(&concat, "%s%s", password, a->username) < 0)
            return false;
        if (pgr_crypto_md5_hex(concat, strlen(concat), hex) == 0)
            ok = pgr_crypto_memeq(hex, u->md5 + 3, PGR_MD5_HEX_LEN);
        pgr_crypto_wipe(concat, strlen(concat));
        pgr_crypto_wipe(hex, sizeof(hex));
        free(concat);
    }
    return ok;
}

int
pgr_auth_password(pgr_auth_t *a, const char *password, pgr_auth_out_t *out)
{
    if (a->step != PGR_AUTH_ST_WAIT_MD5 && a->step != PGR_AUTH_ST_WAIT_PASSWORD)
        return unexpected(a, out);
    out_none(out);
    if (password[0] == '\0')
        return fail(a, "28P01", "empty password returned by client", NULL);
    if (a->step == PGR_AUTH_ST_WAIT_PASSWORD) {
        if (a->passthrough) {
            if ((a->cleartext = strdup(password)) == NULL)
                return PGR_ENOMEM;
            set_step(a, PGR_AUTH_ST_VERIFY);
            return PGR_AUTH_VERIFY;
        }
        if (!cleartext_ok(a, password))
            return fail_password(a);
        int rc = out_set(a, out, PGR_AUTH_REQ_OK, NULL, 0);
        if (rc != 0)
            return rc;
        set_step(a, PGR_AUTH_ST_DONE);
        return PGR_AUTH_OK;
    }
    /* The length of the response is no secret; its content is compared in constant time. */
    size_t n = strlen(password);
    bool ok = n == strlen(a->md5_expect) && pgr_crypto_memeq(password, a->md5_expect, n);
    if (!ok || a->doomed)
        return fail_password(a);
    int rc = out_set(a, out, PGR_AUTH_REQ_OK, NULL, 0);
    if (rc != 0)
        return rc;
    set_step(a, PGR_AUTH_ST_DONE);
    return PGR_AUTH_OK;
}

/* ---- SCRAM messages ------------------------------------------------------------------- */

/* Attribute parsing on a NUL-terminated working copy, cutting it at each ','. Each returns 0 and
 * sets *val, or a fail() result. */
static int
attr_value(pgr_auth_t *a, char **input, char attr, char **val)
{
    char cb[8];
    char *p = *input;
    if (*p != attr)
        return fail(a, "08P01", MALFORMED, "Expected attribute \"%c\" but found \"%s\".", attr,
                    show_char(*p, cb));
    p++;
    if (*p != '=')
        return fail(a, "08P01", MALFORMED, "Expected character \"=\" for attribute \"%c\".",
                    attr);
    p++;
    *val = p;
    char *end = strchr(p, ',');
    if (end != NULL) {
        *end = '\0';
        *input = end + 1;
    } else {
        *input = p + strlen(p);
    }
    return 0;
}

static int
any_attr(pgr_auth_t *a, char **input, char *attr, char **val)
{
    char cb[8];
    char c = **input;
    if (c == '\0')
        return fail(a, "08P01", MALFORMED, "Attribute expected, but found end of string.");
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
        return fail(a, "08P01", MALFORMED,
                    "Attribute expected, but found invalid character \"%s\".", show_char(c, cb));
    *attr = c;
    return attr_value(a, input, c, val);
}

static bool
scram_printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || *s == ',')
            return false;
    return true;
}

/* Check the raw SCRAM message and make a NUL-terminated copy of it in *copy. */
static int
scram_input(pgr_auth_t *a, const uint8_t *data, size_t len, char **copy)
{
    *copy = NULL;
    if (data == NULL || len == 0)
        return fail(a, "08P01", MALFORMED, "The message is empty.");
    if (memchr(data, '\0', len) != NULL)
        return fail(a, "08P01", MALFORMED, "Message length does not match input length.");
    *copy = malloc(len + 1);
    if (*copy == NULL)
        return PGR_ENOMEM;
    memcpy(*copy, data, len);
    (*copy)[len] = '\0';
    return 0;
}

/* client-first-message = gs2-header client-first-message-bare
 *   gs2-header = ("n" / "y" / "p=" cb-name) "," [authzid] ","
 *   bare       = [reserved-mext ","] "n=" user "," "r=" c-nonce ["," extensions]
 * Answers server-first-message: "r=" c-nonce s-nonce ",s=" salt ",i=" iterations. */
static int
client_first(pgr_auth_t *a, const uint8_t *data, size_t len, pgr_auth_out_t *out)
{
    char cb[8];
    char *msg = NULL, *p, *val;
    int rc;

    if ((rc = scram_input(a, data, len, &msg)) != 0)
        goto done;
    p = msg;
    switch (*p) {
    case 'n':
    case 'y':
        a->cbind_flag = *p++;
        if (*p != ',') {
            rc = fail(a, "08P01", MALFORMED, "Comma expected, but found character \"%s\".",
                      show_char(*p, cb));
            goto done;
        }
        p++;
        break;
    case 'p':
        /* No channel binding is offered (no TLS yet): "p=" is a client that wants it anyway. */
        rc = fail(a, "08P01", MALFORMED,
                  "The client selected SCRAM-SHA-256 without channel binding, but the SCRAM "
                  "message includes channel binding data.");
        goto done;
    default:
        rc = fail(a, "08P01", MALFORMED, "Unexpected channel-binding flag \"%s\".",
                  show_char(*p, cb));
        goto done;
    }
    if (*p == 'a') {
        rc = fail(a, "0A000", "client uses authorization identity, but it is not supported",
                  NULL);
        goto done;
    }
    if (*p != ',') {
        rc = fail(a, "08P01", MALFORMED, "Unexpected attribute \"%s\" in client-first-message.",
                  show_char(*p, cb));
        goto done;
    }
    p++;
    a->client_first_bare = strdup(p);
    if (a->client_first_bare == NULL) {
        rc = PGR_ENOMEM;
        goto done;
    }
    if (*p == 'm') {
        rc = fail(a, "0A000", "client requires an unsupported SCRAM extension", NULL);
        goto done;
    }
    /* The SCRAM user name is ignored: the startup packet's user is the one that counts. */
    if ((rc = attr_value(a, &p, 'n', &val)) != 0)
        goto done;
    if ((rc = attr_value(a, &p, 'r', &val)) != 0)
        goto done;
    if (!scram_printable(val)) {
        rc = fail(a, "08P01", "non-printable characters in SCRAM nonce", NULL);
        goto done;
    }
    a->client_nonce = strdup(val);
    if (a->client_nonce == NULL) {
        rc = PGR_ENOMEM;
        goto done;
    }
    while (*p != '\0') { /* optional extensions: none supported, all ignored */
        char attr;
        if ((rc = any_attr(a, &p, &attr, &val)) != 0)
            goto done;
    }

    /* server-first-message */
    if (a->fixed_nonce != NULL) {
        if (strlen(a->fixed_nonce) >= sizeof(a->server_nonce)) {
            rc = PGR_EINVAL;
            goto done;
        }
        strcpy(a->server_nonce, a->fixed_nonce);
    } else {
        uint8_t raw[SCRAM_RAW_NONCE];
        if ((rc = pgr_tls_random(raw, sizeof(raw))) != 0)
            goto done;
        rc = pgr_crypto_base64_encode(raw, sizeof(raw), a->server_nonce, sizeof(a->server_nonce));
        if (rc < 0)
            goto done;
    }
    char salt[PGR_SCRAM_SALT_MAX * 2];
    if ((rc = pgr_crypto_base64_encode(a->ver.salt, a->ver.salt_len, salt, sizeof(salt))) < 0)
        goto done;
    if (asprintf(&a->server_first, "r=%s%s,s=%s,i=%d", a->client_nonce, a->server_nonce, salt,
                 a->ver.iterations) < 0) {
        a->server_first = NULL;
        rc = PGR_ENOMEM;
        goto done;
    }
    if ((rc = out_set(a, out, PGR_AUTH_REQ_SASL_CONTINUE, a->server_first,
                      strlen(a->server_first))) != 0)
        goto done;
    set_step(a, PGR_AUTH_ST_WAIT_FINAL);
    rc = PGR_AUTH_CONTINUE;

done:
    free(msg);
    return rc;
}

/* AuthMessage = client-first-message-bare "," server-first-message ","
 *               client-final-message-without-proof; out = HMAC(key, AuthMessage). */
static int
auth_message_hmac(const pgr_auth_t *a, const char *final_wo_proof, size_t final_len,
                  const uint8_t key[PGR_SHA256_LEN], uint8_t mac[PGR_SHA256_LEN])
{
    size_t l1 = strlen(a->client_first_bare), l2 = strlen(a->server_first);
    char *m = malloc(l1 + l2 + final_len + 2);
    if (m == NULL)
        return PGR_ENOMEM;
    memcpy(m, a->client_first_bare, l1);
    m[l1] = ',';
    memcpy(m + l1 + 1, a->server_first, l2);
    m[l1 + 1 + l2] = ',';
    memcpy(m + l1 + 2 + l2, final_wo_proof, final_len);
    int rc = pgr_crypto_hmac_sha256(key, PGR_SHA256_LEN, m, l1 + l2 + final_len + 2, mac);
    free(m);
    return rc;
}

/* client-final-message = "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" proof
 * Answers server-final-message: "v=" base64(ServerSignature). */
static int
client_final(pgr_auth_t *a, const uint8_t *data, size_t len, pgr_auth_out_t *out)
{
    char *msg = NULL, *p, *val, *nonce, *proof_at;
    uint8_t proof[PGR_SHA256_LEN + 3], sig[PGR_SHA256_LEN], key[PGR_SHA256_LEN];
    uint8_t check[PGR_SHA256_LEN];
    char attr;
    int rc;

    if ((rc = scram_input(a, data, len, &msg)) != 0)
        goto done;
    p = msg;
    if ((rc = attr_value(a, &p, 'c', &val)) != 0)
        goto done;
    /* Without channel binding c= repeats the gs2 header: "biws" is "n,,", "eSws" is "y,,". */
    if (!(strcmp(val, "biws") == 0 && a->cbind_flag == 'n') &&
        !(strcmp(val, "eSws") == 0 && a->cbind_flag == 'y')) {
        rc = fail(a, "08P01",
                  "unexpected SCRAM channel-binding attribute in client-final-message", NULL);
        goto done;
    }
    if ((rc = attr_value(a, &p, 'r', &nonce)) != 0)
        goto done;
    do { /* skip extensions up to the proof; proof_at is the ',' before "p=" */
        proof_at = p - 1;
        if ((rc = any_attr(a, &p, &attr, &val)) != 0)
            goto done;
    } while (attr != 'p');
    if (pgr_crypto_base64_decode(val, strlen(val), proof, sizeof(proof)) != PGR_SHA256_LEN) {
        rc = fail(a, "08P01", MALFORMED, "Malformed proof in client-final-message.");
        goto done;
    }
    if (*p != '\0') {
        rc = fail(a, "08P01", MALFORMED, "Garbage found at the end of client-final-message.");
        goto done;
    }
    size_t cn = strlen(a->client_nonce), sn = strlen(a->server_nonce);
    if (strlen(nonce) != cn + sn || memcmp(nonce, a->client_nonce, cn) != 0 ||
        memcmp(nonce + cn, a->server_nonce, sn) != 0) {
        rc = fail(a, "08P01", "invalid SCRAM response", "Nonce does not match.");
        goto done;
    }

    /* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); it must hash to StoredKey.
     * A doomed (mock) exchange does the same work and fails here too. The message without the
     * proof is cut from the original bytes (msg has NULs where the commas were). */
    size_t wo_len = (size_t)(proof_at - msg);
    if ((rc = auth_message_hmac(a, (const char *)data, wo_len, a->ver.stored_key, sig)) != 0)
        goto done;
    for (size_t i = 0; i < PGR_SHA256_LEN; i++)
        key[i] = proof[i] ^ sig[i];
    if ((rc = pgr_crypto_sha256(key, sizeof(key), check)) != 0)
        goto done;
    if (!pgr_crypto_memeq(check, a->ver.stored_key, PGR_SHA256_LEN) || a->doomed) {
        rc = fail_password(a);
        goto done;
    }

    /* ServerSignature = HMAC(ServerKey, AuthMessage) */
    char v[8 + 64];
    memcpy(v, "v=", 2);
    if ((rc = auth_message_hmac(a, (const char *)data, wo_len, a->ver.server_key, sig)) != 0)
        goto done;
    if ((rc = pgr_crypto_base64_encode(sig, sizeof(sig), v + 2, sizeof(v) - 2)) < 0)
        goto done;
    if ((rc = out_set(a, out, PGR_AUTH_REQ_SASL_FINAL, v, strlen(v))) != 0)
        goto done;
    set_step(a, PGR_AUTH_ST_DONE);
    rc = PGR_AUTH_OK;

done:
    pgr_crypto_wipe(key, sizeof(key));
    pgr_crypto_wipe(proof, sizeof(proof));
    free(msg);
    return rc;
}

int
pgr_auth_sasl_initial(pgr_auth_t *a, const char *mechanism, const uint8_t *data, size_t len,
                      pgr_auth_out_t *out)
{
    if (a->step != PGR_AUTH_ST_WAIT_INITIAL)
        return unexpected(a, out);
    out_none(out);
    /* SCRAM-SHA-256-PLUS is never offered before TLS exists, so it is as invalid as any other. */
    if (strcmp(mechanism, SCRAM_MECH) != 0)
        return fail(a, "08P01", "client selected an invalid SASL authentication mechanism", NULL);
    if (data == NULL) {
        int rc = out_set(a, out, PGR_AUTH_REQ_SASL_CONTINUE, NULL, 0);
        if (rc != 0)
            return rc;
        set_step(a, PGR_AUTH_ST_WAIT_FIRST);
        return PGR_AUTH_CONTINUE;
    }
    return client_first(a, data, len, out);
}

int
pgr_auth_sasl_response(pgr_auth_t *a, const uint8_t *data, size_t len, pgr_auth_out_t *out)
{
    out_none(out);
    switch (a->step) {
    case PGR_AUTH_ST_WAIT_FIRST:
        return client_first(a, data, len, out);
    case PGR_AUTH_ST_WAIT_FINAL:
        return client_final(a, data, len, out);
    default:
        return unexpected(a, out);
    }
}

/* ---- teardown ------------------------------------------------------------------------- */

static void
free_str(char **s)
{
    if (*s != NULL) {
        pgr_crypto_wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void
pgr_auth_reset(pgr_auth_t *a)
{
    free_str(&a->username);
    free_str(&a->message);
    free_str(&a->detail);
    free_str(&a->client_first_bare);
    free_str(&a->client_nonce);
    free_str(&a->server_first);
    free_str(&a->cleartext);
    pgr_crypto_wipe(a->buf, a->buf_cap);
    free(a->buf);
    pgr_crypto_wipe(a, sizeof(*a));
    memset(a, 0, sizeof(*a)); /* EMPTY, with NULL pointers, whatever the wipe wrote */
}

void
pgr_auth_free(pgr_auth_t *a)
{
    pgr_auth_reset(a);
}
