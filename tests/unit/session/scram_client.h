/* A small SCRAM-SHA-256 client for tests (RFC 5802 / 7677, no channel binding), written from the
 * RFC on top of net/tls's primitives, to drive session/auth's server side end to end. Also used
 * by tests/integration/auth_verifier.c. Like libpq it SASLpreps the password, with
 * session/saslprep (tests/integration/test_auth_verifier.py checks that against libpq's own
 * pg_saslprep). Header-only: every function is static. */
#ifndef PGR_TEST_SCRAM_CLIENT_H
#define PGR_TEST_SCRAM_CLIENT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"
#include "session/saslprep.h"

typedef struct {
    char gs2[32];          /* "n,," or "y,," */
    char first_bare[256];  /* "n=,r=<nonce>" */
    char server_sig[64];   /* base64 ServerSignature we expect in server-final */
} tsc_t;

/* client-first-message into out: gs2 header + "n=,r=" + nonce (libpq sends an empty n=). */
static int
tsc_first(tsc_t *c, const char *gs2, const char *nonce, char *out, size_t cap)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->gs2, sizeof(c->gs2), "%s", gs2);
    snprintf(c->first_bare, sizeof(c->first_bare), "n=,r=%s", nonce);
    int n = snprintf(out, cap, "%s%s", c->gs2, c->first_bare);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* Find "<attr>=" in a server-first-message and copy its value (up to ',') into val. */
static bool
tsc_attr(const char *msg, char attr, char *val, size_t cap)
{
    for (const char *p = msg; *p; ) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= 2 && p[0] == attr && p[1] == '=') {
            if (n - 2 >= cap)
                return false;
            memcpy(val, p + 2, n - 2);
            val[n - 2] = '\0';
            return true;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* client-final-message for password, given server-first (sf, sflen bytes). nonce_override, when
 * not NULL, replaces the combined nonce (to test a mismatch). Returns its length or -1. */
static int
tsc_final(tsc_t *c, const char *password, const char *sf, size_t sflen,
          const char *nonce_override, char *out, size_t cap)
{
    char first[512], nonce[256], salt64[128], iters[16], cbind[64], without[512], proof64[64];
    uint8_t salt[96], salted[32], ckey[32], skey[32], stored[32], csig[32], ssig[32], proof[32];
    if (sflen >= sizeof(first))
        return -1;
    memcpy(first, sf, sflen);
    first[sflen] = '\0';
    if (!tsc_attr(first, 'r', nonce, sizeof(nonce)) || !tsc_attr(first, 's', salt64, sizeof(salt64)) ||
        !tsc_attr(first, 'i', iters, sizeof(iters)))
        return -1;
    int saltlen = pgr_crypto_base64_decode(salt64, strlen(salt64), salt, sizeof(salt));
    int it = atoi(iters);
    if (saltlen <= 0 || it <= 0)
        return -1;
    if (pgr_crypto_base64_encode((const uint8_t *)c->gs2, strlen(c->gs2), cbind, sizeof(cbind)) < 0)
        return -1;
    snprintf(without, sizeof(without), "c=%s,r=%s", cbind,
             nonce_override ? nonce_override : nonce);

    size_t am_len = strlen(c->first_bare) + 1 + strlen(first) + 1 + strlen(without);
    char *am = malloc(am_len + 1);
    if (am == NULL)
        return -1;
    snprintf(am, am_len + 1, "%s,%s,%s", c->first_bare, first, without);
    /* The password is SASLprep'd as libpq does (its own bytes when that fails). */
    char *prepped = pgr_saslprep_password(password);
    int bad = prepped == NULL ||
              pgr_crypto_pbkdf2_sha256(prepped, strlen(prepped), salt, (size_t)saltlen, it,
                                       salted) != 0 ||
              pgr_crypto_hmac_sha256(salted, 32, "Client Key", 10, ckey) != 0 ||
              pgr_crypto_sha256(ckey, 32, stored) != 0 ||
              pgr_crypto_hmac_sha256(stored, 32, am, am_len, csig) != 0 ||
              pgr_crypto_hmac_sha256(salted, 32, "Server Key", 10, skey) != 0 ||
              pgr_crypto_hmac_sha256(skey, 32, am, am_len, ssig) != 0;
    free(am);
    pgr_saslprep_free(prepped);
    if (bad)
        return -1;
    for (int i = 0; i < 32; i++)
        proof[i] = ckey[i] ^ csig[i];
    if (pgr_crypto_base64_encode(proof, 32, proof64, sizeof(proof64)) < 0 ||
        pgr_crypto_base64_encode(ssig, 32, c->server_sig, sizeof(c->server_sig)) < 0)
        return -1;
    int n = snprintf(out, cap, "%s,p=%s", without, proof64);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* true when server-final (sfin, len bytes) is "v=" + the ServerSignature we computed. */
static bool
tsc_verify(const tsc_t *c, const void *sfin, size_t len)
{
    size_t n = strlen(c->server_sig);
    return len == n + 2 && memcmp(sfin, "v=", 2) == 0 &&
           memcmp((const char *)sfin + 2, c->server_sig, n) == 0;
}

#endif
