/* The secrets of authentication: the process's auth secret and the salts derived from it, SCRAM
 * verifiers (derived from a password, parsed and formatted as pg_authid stores them), and random
 * cancel keys. Part of the auth module (auth_int.h); the exchange is auth.c. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "session/auth_int.h"
#include "session/saslprep.h"

int
pgr_auth_secret_init(pgr_auth_secret_t *s, bool mock_derives)
{
    s->mock_derives = mock_derives;
    return pgr_tls_random(s->key, sizeof(s->key));
}

/* The salt an unknown user (and a plaintext-password user) is served: HMAC(key, username). */
int
pgr_auth_derived_salt(const pgr_auth_secret_t *s, const char *username,
                      uint8_t salt[PGR_SCRAM_SALT_LEN])
{
    uint8_t mac[PGR_SHA256_LEN];
    int rc = pgr_crypto_hmac_sha256(s->key, sizeof(s->key), username, strlen(username), mac);
    if (rc == 0)
        memcpy(salt, mac, PGR_SCRAM_SALT_LEN);
    pgr_crypto_wipe(mac, sizeof(mac));
    return rc;
}

int
pgr_auth_user_verifier(const pgr_auth_secret_t *secret, const char *username,
                       const char *password, pgr_scram_verifier_t *v)
{
    uint8_t salt[PGR_SCRAM_SALT_LEN];
    int rc = pgr_auth_derived_salt(secret, username, salt);
    if (rc == 0)
        rc = pgr_auth_make_verifier(password, salt, sizeof(salt), PGR_SCRAM_ITERATIONS, v);
    return rc;
}

int
pgr_auth_make_verifier(const char *password, const uint8_t *salt, size_t salt_len, int iterations,
                       pgr_scram_verifier_t *v)
{
    uint8_t salted[PGR_SHA256_LEN], client_key[PGR_SHA256_LEN];
    int rc;

    memset(v, 0, sizeof(*v));
    if (iterations < 1)
        return PGR_EINVAL;
    if (salt == NULL) {
        salt_len = PGR_SCRAM_SALT_LEN;
        if ((rc = pgr_tls_random(v->salt, salt_len)) != 0)
            return rc;
    } else {
        if (salt_len == 0 || salt_len > PGR_SCRAM_SALT_MAX)
            return PGR_EINVAL;
        memcpy(v->salt, salt, salt_len);
    }
    v->salt_len = salt_len;
    v->iterations = iterations;

    /* SaltedPassword = Hi(SASLprep(password), salt, i); ClientKey = HMAC(SaltedPassword,
     * "Client Key"); StoredKey = H(ClientKey); ServerKey = HMAC(SaltedPassword, "Server Key"). */
    char *prepped = pgr_saslprep_password(password);
    if (prepped == NULL) {
        memset(v, 0, sizeof(*v));
        return PGR_ENOMEM;
    }
    rc = pgr_crypto_pbkdf2_sha256(prepped, strlen(prepped), v->salt, v->salt_len, iterations,
                                  salted);
    pgr_saslprep_free(prepped);
    if (rc == 0)
        rc = pgr_crypto_hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
    if (rc == 0)
        rc = pgr_crypto_sha256(client_key, sizeof(client_key), v->stored_key);
    if (rc == 0)
        rc = pgr_crypto_hmac_sha256(salted, sizeof(salted), "Server Key", 10, v->server_key);
    pgr_crypto_wipe(salted, sizeof(salted));
    pgr_crypto_wipe(client_key, sizeof(client_key));
    if (rc != 0)
        pgr_crypto_wipe(v, sizeof(*v));
    return rc;
}

/* Decode the base64 field [s, s+n) into exactly want bytes (want 0: 1..cap bytes). */
static int
decode_field(const char *s, size_t n, uint8_t *dst, size_t cap, size_t want, size_t *got)
{
    int len = pgr_crypto_base64_decode(s, n, dst, cap);
    if (len < 0 || len == 0 || (want != 0 && (size_t)len != want))
        return PGR_EINVAL;
    if (got != NULL)
        *got = (size_t)len;
    return 0;
}

int
pgr_auth_verifier_parse(const char *s, pgr_scram_verifier_t *v)
{
    /* SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> */
    static const char scheme[] = "SCRAM-SHA-256$";
    const char *p, *colon, *dollar, *colon2;

    memset(v, 0, sizeof(*v));
    if (s == NULL || strncmp(s, scheme, sizeof(scheme) - 1) != 0)
        goto fail;
    p = s + sizeof(scheme) - 1;

    /* iterations: decimal digits only, 1..INT_MAX */
    colon = strchr(p, ':');
    if (colon == NULL || colon == p)
        goto fail;
    long long it = 0;
    for (const char *q = p; q < colon; q++) {
        if (*q < '0' || *q > '9')
            goto fail;
        it = it * 10 + (*q - '0');
        if (it > INT_MAX)
            goto fail;
    }
    if (it < 1)
        goto fail;
    v->iterations = (int)it;

    dollar = strchr(colon + 1, '$');
    if (dollar == NULL)
        goto fail;
    if (decode_field(colon + 1, (size_t)(dollar - colon - 1), v->salt, sizeof(v->salt), 0,
                     &v->salt_len) != 0)
        goto fail;

    colon2 = strchr(dollar + 1, ':');
    if (colon2 == NULL)
        goto fail;
    uint8_t key[PGR_SHA256_LEN + 3];
    if (decode_field(dollar + 1, (size_t)(colon2 - dollar - 1), key, sizeof(key), PGR_SHA256_LEN,
                     NULL) != 0)
        goto fail;
    memcpy(v->stored_key, key, PGR_SHA256_LEN);
    if (decode_field(colon2 + 1, strlen(colon2 + 1), key, sizeof(key), PGR_SHA256_LEN, NULL) != 0)
        goto fail;
    memcpy(v->server_key, key, PGR_SHA256_LEN);
    pgr_crypto_wipe(key, sizeof(key));
    return 0;

fail:
    pgr_crypto_wipe(v, sizeof(*v));
    return PGR_EINVAL;
}

int
pgr_auth_verifier_format(const pgr_scram_verifier_t *v, char *buf, size_t cap)
{
    char salt[PGR_SCRAM_SALT_MAX * 2], stored[64], server[64];
    if (v->iterations < 1 || v->salt_len == 0 || v->salt_len > PGR_SCRAM_SALT_MAX)
        return PGR_EINVAL;
    if (pgr_crypto_base64_encode(v->salt, v->salt_len, salt, sizeof(salt)) < 0 ||
        pgr_crypto_base64_encode(v->stored_key, PGR_SHA256_LEN, stored, sizeof(stored)) < 0 ||
        pgr_crypto_base64_encode(v->server_key, PGR_SHA256_LEN, server, sizeof(server)) < 0)
        return PGR_EINVAL;
    int n = snprintf(buf, cap, "SCRAM-SHA-256$%d:%s$%s:%s", v->iterations, salt, stored, server);
    if (n < 0 || (size_t)n >= cap)
        return PGR_EINVAL;
    return n;
}

int
pgr_auth_new_cancel_key(int32_t *pid, int32_t *key)
{
    uint32_t r[2];
    int rc;
    do {
        if ((rc = pgr_tls_random(r, sizeof(r))) != 0)
            return rc;
        r[0] &= 0x7fffffffu;
    } while (r[0] == 0);
    *pid = (int32_t)r[0];
    memcpy(key, &r[1], sizeof(*key));
    return 0;
}
