/* net/tls: OpenSSL behind pgrouter's own names. Crypto primitives for client authentication and
 * a strict base64 codec (no OpenSSL needed for that, but it travels with the SCRAM primitives). */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "net/tls.h"

int
pgr_tls_random(void *buf, size_t n)
{
    if (n > INT_MAX)
        return PGR_EINVAL;
    if (n == 0)
        return 0;
    return RAND_bytes(buf, (int)n) == 1 ? 0 : PGR_EIO;
}

static int
digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out, unsigned want)
{
    unsigned got = 0;
    if (EVP_Digest(data, len, out, &got, md, NULL) != 1 || got != want)
        return PGR_EIO;
    return 0;
}

int
pgr_crypto_sha256(const void *data, size_t len, uint8_t out[PGR_SHA256_LEN])
{
    return digest(EVP_sha256(), data, len, out, PGR_SHA256_LEN);
}

int
pgr_crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                       uint8_t out[PGR_SHA256_LEN])
{
    unsigned got = 0;
    if (keylen > INT_MAX)
        return PGR_EINVAL;
    /* OpenSSL wants non-NULL pointers even for empty inputs. */
    if (HMAC(EVP_sha256(), key ? key : "", (int)keylen, data ? data : (const void *)"", len, out,
             &got) == NULL ||
        got != PGR_SHA256_LEN)
        return PGR_EIO;
    return 0;
}

int
pgr_crypto_pbkdf2_sha256(const void *password, size_t pwlen, const uint8_t *salt, size_t saltlen,
                         int iterations, uint8_t out[PGR_SHA256_LEN])
{
    if (iterations < 1 || pwlen > INT_MAX || saltlen > INT_MAX)
        return PGR_EINVAL;
    if (PKCS5_PBKDF2_HMAC(password ? password : "", (int)pwlen,
                          salt ? salt : (const uint8_t *)"", (int)saltlen, iterations,
                          EVP_sha256(), PGR_SHA256_LEN, out) != 1)
        return PGR_EIO;
    return 0;
}

int
pgr_crypto_md5_hex(const void *data, size_t len, char out[PGR_MD5_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t sum[16];
    int rc = digest(EVP_md5(), data, len, sum, sizeof(sum));
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < sizeof(sum); i++) {
        out[2 * i] = hex[sum[i] >> 4];
        out[2 * i + 1] = hex[sum[i] & 0xf];
    }
    out[PGR_MD5_HEX_LEN] = '\0';
    pgr_crypto_wipe(sum, sizeof(sum));
    return 0;
}

bool
pgr_crypto_memeq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void
pgr_crypto_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

/* ---- base64 ---------------------------------------------------------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of one alphabet character, or -1. */
static int
b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t
pgr_crypto_base64_enc_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t
pgr_crypto_base64_dec_len(size_t n)
{
    return n / 4 * 3;
}

int
pgr_crypto_base64_encode(const uint8_t *src, size_t n, char *dst, size_t dstcap)
{
    if (n > (size_t)INT_MAX / 4 * 3 - 3)
        return PGR_ELIMIT;
    size_t need = pgr_crypto_base64_enc_len(n);
    if (dstcap < need + 1)
        return PGR_EINVAL;
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o++] = b64chars[v >> 18];
        dst[o++] = b64chars[(v >> 12) & 63];
        dst[o++] = b64chars[(v >> 6) & 63];
        dst[o++] = b64chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        dst[o++] = b64chars[v >> 18];
        dst[o++] = b64chars[(v >> 12) & 63];
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[o++] = b64chars[v >> 18];
        dst[o++] = b64chars[(v >> 12) & 63];
        dst[o++] = b64chars[(v >> 6) & 63];
        dst[o++] = '=';
    }
    dst[o] = '\0';
    return (int)o;
}

int
pgr_crypto_base64_decode(const char *src, size_t n, uint8_t *dst, size_t dstcap)
{
    if (n % 4 != 0)
        return PGR_EINVAL;
    if (n / 4 > (size_t)INT_MAX / 3)
        return PGR_ELIMIT;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        int pads = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)src[i + k];
            if (c == '=' && last && k >= 2) {
                /* "xx=y" is not a pad: once a pad starts, only pads follow. */
                v[k] = 0;
                pads++;
                continue;
            }
            if (pads > 0)
                return PGR_EINVAL;
            v[k] = b64val(c);
            if (v[k] < 0)
                return PGR_EINVAL;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        /* The bits a pad leaves unused must be zero (canonical encoding only). */
        if ((pads == 1 && (w & 0xff) != 0) || (pads == 2 && (w & 0xffff) != 0))
            return PGR_EINVAL;
        size_t nbytes = 3 - (size_t)pads;
        if (dstcap - o < nbytes)
            return PGR_ELIMIT;
        dst[o++] = (uint8_t)(w >> 16);
        if (nbytes > 1)
            dst[o++] = (uint8_t)(w >> 8);
        if (nbytes > 2)
            dst[o++] = (uint8_t)w;
    }
    return (int)o;
}
