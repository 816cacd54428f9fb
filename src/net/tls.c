/* net/tls: OpenSSL behind pgrouter's own names. Crypto primitives for client authentication, a
 * strict base64 codec (no OpenSSL needed for that, but it travels with the SCRAM primitives),
 * and client-facing TLS sessions over a custom BIO that reads the owner's ciphertext buffer and
 * writes to its sink, so no socket is ever touched here. */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>

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

/* ---- client-facing TLS ------------------------------------------------------------------- */

/* TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all of that already). */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"

struct pgr_tls_ctx {
    SSL_CTX *ssl_ctx;
    BIO_METHOD *bio_method; /* sessions' BIOs; freed with the context, after the last session */
    int refs;               /* the context itself + one per live session */
};

struct pgr_tls_session {
    SSL *ssl;
    pgr_tls_ctx_t *ctx;
    pgr_iobuf_t rx;          /* ciphertext from the peer, read by bio_read */
    pgr_tls_sink_cb sink;
    void *arg;
    int sink_err;            /* the sink's failure, reported instead of OpenSSL's view of it */
    char err[160];
};

/* The earliest queued OpenSSL error as text (the most specific one), then clear the queue. */
static void
take_error(char *buf, size_t cap, const char *fallback)
{
    unsigned long e = ERR_get_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;

    if (reason != NULL)
        snprintf(buf, cap, "%s", reason);
    else if (e != 0)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "%s", fallback);
    ERR_clear_error();
}

static void
ctx_unref(pgr_tls_ctx_t *ctx)
{
    if (ctx == NULL || --ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->bio_method);
    free(ctx);
}

/* A key with a passphrase would make OpenSSL prompt on the terminal: refuse it instead. */
/* ALPN as PostgreSQL 17: a client that offers protocols must offer "postgresql", which is then
 * selected; one that offers only others fails the handshake (no_application_protocol). A
 * client that offers none is not asked here: the direct-TLS path refuses it after the
 * handshake, the SSLRequest path takes it. */
static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
               const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char want[] = "\x0apostgresql";
    unsigned char *sel = NULL;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, want, sizeof(want) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* ---- the BIO: ciphertext in from s->rx, out through s->sink ---- */

static int
bio_write_ex(BIO *b, const char *data, size_t n, size_t *written)
{
    pgr_tls_session_t *s = BIO_get_data(b);
    int rc;

    BIO_clear_retry_flags(b);
    *written = 0;
    rc = s->sink(s->arg, (const uint8_t *)data, n);
    if (rc != 0) {
        s->sink_err = rc;
        return 0;
    }
    *written = n;
    return 1;
}

static int
bio_read_ex(BIO *b, char *data, size_t n, size_t *readbytes)
{
    pgr_tls_session_t *s = BIO_get_data(b);
    size_t have = pgr_iobuf_len(&s->rx);

    BIO_clear_retry_flags(b);
    *readbytes = 0;
    if (have == 0) {
        BIO_set_retry_read(b); /* not EOF: the owner fills rx when the socket has more */
        return 0;
    }
    if (n > have)
        n = have;
    memcpy(data, pgr_iobuf_data(&s->rx), n);
    pgr_iobuf_consume(&s->rx, n);
    *readbytes = n;
    return 1;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    pgr_tls_session_t *s = BIO_get_data(b);

    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return s ? (long)pgr_iobuf_len(&s->rx) : 0;
    default:
        return 0;
    }
}

static int
bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static int
bio_destroy(BIO *b)
{
    BIO_set_data(b, NULL);
    return 1;
}

int
pgr_tls_ctx_new(const char *cert_file, const char *key_file, pgr_tls_ctx_t **out, char *err,
                size_t errcap)
{
    pgr_tls_ctx_t *ctx = NULL;
    char why[160];

    *out = NULL;
    ERR_clear_error();
    if (cert_file == NULL || key_file == NULL) {
        snprintf(err, errcap, "tls.cert and tls.key are both needed");
        return PGR_ECONFIG;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        goto nomem;
    ctx->refs = 1;
    ctx->ssl_ctx = SSL_CTX_new(TLS_server_method());
    ctx->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pgrouter");
    if (ctx->ssl_ctx == NULL || ctx->bio_method == NULL)
        goto nomem;
    if (BIO_meth_set_write_ex(ctx->bio_method, bio_write_ex) != 1 ||
        BIO_meth_set_read_ex(ctx->bio_method, bio_read_ex) != 1 ||
        BIO_meth_set_ctrl(ctx->bio_method, bio_ctrl) != 1 ||
        BIO_meth_set_create(ctx->bio_method, bio_create) != 1 ||
        BIO_meth_set_destroy(ctx->bio_method, bio_destroy) != 1)
        goto nomem;

    SSL_CTX_set_default_passwd_cb(ctx->ssl_ctx, no_passphrase_cb);
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cert_file) != 1) {
        take_error(why, sizeof(why), "unknown error");
        snprintf(err, errcap, "tls.cert \"%s\": cannot load a PEM certificate: %s", cert_file, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        take_error(why, sizeof(why), "unknown error");
        if (strstr(why, "mismatch") != NULL)
            snprintf(err, errcap, "tls.key \"%s\" does not match the certificate in tls.cert \"%s\"",
                     key_file, cert_file);
        else
            snprintf(err, errcap, "tls.key \"%s\": cannot load a PEM private key: %s%s", key_file,
                     why, strstr(why, "bad decrypt") || strstr(why, "password")
                              ? " (keys with a passphrase are not supported)" : "");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errcap, "tls.key \"%s\" does not match the certificate in tls.cert \"%s\"",
                 key_file, cert_file);
        goto fail;
    }
    /* As PostgreSQL: TLS 1.2 at least, no compression (CRIME), no renegotiation, no session
     * resumption state kept for clients. */
    if (SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx->ssl_ctx, TLS12_CIPHERS) != 1) {
        take_error(why, sizeof(why), "unknown error");
        snprintf(err, errcap, "TLS settings refused by OpenSSL: %s", why);
        goto fail;
    }
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                          SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select_cb, NULL);
    (void)SSL_CTX_set_num_tickets(ctx->ssl_ctx, 0);
    /* Idle connections give their 2 x 16 KiB record buffers back. */
    SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    *out = ctx;
    return 0;
nomem:
    ERR_clear_error();
    snprintf(err, errcap, "out of memory creating the TLS context");
fail:
    ctx_unref(ctx);
    return PGR_ECONFIG;
}

void
pgr_tls_ctx_free(pgr_tls_ctx_t *ctx)
{
    ctx_unref(ctx);
}

int
pgr_tls_session_new(pgr_tls_ctx_t *ctx, pgr_tls_sink_cb sink, void *arg, pgr_tls_session_t **out)
{
    pgr_tls_session_t *s = NULL;
    BIO *bio = NULL;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto fail;
    pgr_iobuf_init(&s->rx, 0);
    s->sink = sink;
    s->arg = arg;
    s->ssl = SSL_new(ctx->ssl_ctx);
    bio = BIO_new(ctx->bio_method);
    if (s->ssl == NULL || bio == NULL)
        goto fail;
    BIO_set_data(bio, s);
    SSL_set_bio(s->ssl, bio, bio); /* one reference, now the SSL's */
    SSL_set_accept_state(s->ssl);
    s->ctx = ctx;
    ctx->refs++;
    *out = s;
    return 0;
fail:
    ERR_clear_error();
    BIO_free(bio);
    if (s != NULL)
        SSL_free(s->ssl);
    free(s);
    return PGR_ENOMEM;
}

void
pgr_tls_session_free(pgr_tls_session_t *s)
{
    if (s == NULL)
        return;
    SSL_free(s->ssl); /* frees the BIO too */
    pgr_iobuf_free(&s->rx);
    ctx_unref(s->ctx);
    free(s);
}

pgr_iobuf_t *
pgr_tls_rx(pgr_tls_session_t *s)
{
    return &s->rx;
}

/* Map a failed SSL_read/SSL_write/SSL_shutdown result to a PGR_E* code and keep the reason. */
static int
io_error(pgr_tls_session_t *s, int ret)
{
    int e = SSL_get_error(s->ssl, ret);

    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* the sink never blocks; listed for completeness */
        ERR_clear_error();
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return PGR_ECLOSED;
    default:
        if (s->sink_err != 0) {
            ERR_clear_error();
            snprintf(s->err, sizeof(s->err), "%s", pgr_strerror(s->sink_err));
            return s->sink_err;
        }
        take_error(s->err, sizeof(s->err),
                   e == SSL_ERROR_SYSCALL ? "unexpected end of the TLS stream" : "TLS failure");
        return PGR_EIO;
    }
}

ssize_t
pgr_tls_read(pgr_tls_session_t *s, void *dst, size_t cap)
{
    int n;

    if (cap == 0)
        return 0;
    if (cap > INT_MAX)
        cap = INT_MAX;
    /* The error queue is per thread and shared with libpq: start from a clean one, or an old
     * entry makes SSL_get_error misreport. */
    ERR_clear_error();
    n = SSL_read(s->ssl, dst, (int)cap);
    if (n > 0)
        return n;
    return io_error(s, n);
}

int
pgr_tls_write(pgr_tls_session_t *s, const void *p, size_t n)
{
    const uint8_t *bytes = p;

    if (!SSL_is_init_finished(s->ssl))
        return PGR_EBUSY;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        ERR_clear_error();
        int rc = SSL_write(s->ssl, bytes, chunk);
        if (rc <= 0) {
            rc = io_error(s, rc);
            return rc != 0 ? rc : PGR_EIO;
        }
        bytes += rc;
        n -= (size_t)rc;
    }
    return 0;
}

void
pgr_tls_shutdown(pgr_tls_session_t *s)
{
    if (!SSL_is_init_finished(s->ssl))
        return;
    ERR_clear_error();
    (void)SSL_shutdown(s->ssl); /* 0: close_notify sent, the peer's not awaited */
    ERR_clear_error();
}

size_t
pgr_tls_buffered(const pgr_tls_session_t *s)
{
    return pgr_iobuf_len(&s->rx) + (size_t)SSL_pending(s->ssl);
}

bool
pgr_tls_ready(const pgr_tls_session_t *s)
{
    return SSL_is_init_finished(s->ssl) == 1;
}

bool
pgr_tls_alpn_postgresql(const pgr_tls_session_t *s)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;

    SSL_get0_alpn_selected(s->ssl, &p, &n);
    return n == 10 && memcmp(p, "postgresql", 10) == 0;
}

const char *
pgr_tls_version(const pgr_tls_session_t *s)
{
    return pgr_tls_ready(s) ? SSL_get_version(s->ssl) : "";
}

const char *
pgr_tls_error(const pgr_tls_session_t *s)
{
    return s->err;
}
