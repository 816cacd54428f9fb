/* net/tls: the one module that uses OpenSSL. It holds the crypto primitives client
 * authentication needs (random bytes, SHA-256, HMAC, PBKDF2, MD5, constant-time compare), a
 * strict base64 codec, and client-facing TLS: a server context built from tls.cert/tls.key and
 * per-connection sessions that never touch a socket (net/conn moves their bytes). */
#ifndef PGR_NET_TLS_H
#define PGR_NET_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/base.h"
#include "net/iobuf.h"

#define PGR_SHA256_LEN  32
#define PGR_MD5_HEX_LEN 32 /* hex digits, without the NUL */

/* n bytes from the OpenSSL CSPRNG (RAND_bytes). 0, or PGR_EIO when the generator fails (the
 * buffer must then not be used). */
int pgr_tls_random(void *buf, size_t n) PGR_MUSTCHECK;

/* One-shot digests and MACs. Each returns 0 or PGR_EIO (the library failed); out is always
 * PGR_SHA256_LEN bytes. */
int pgr_crypto_sha256(const void *data, size_t len, uint8_t out[PGR_SHA256_LEN]) PGR_MUSTCHECK;
int pgr_crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                           uint8_t out[PGR_SHA256_LEN]) PGR_MUSTCHECK;
/* PBKDF2-HMAC-SHA-256 with one output block: SCRAM's Hi(password, salt, iterations).
 * iterations must be >= 1 (PGR_EINVAL otherwise). */
int pgr_crypto_pbkdf2_sha256(const void *password, size_t pwlen, const uint8_t *salt,
                             size_t saltlen, int iterations,
                             uint8_t out[PGR_SHA256_LEN]) PGR_MUSTCHECK;
/* MD5 of data as 32 lowercase hex digits and a NUL, as PostgreSQL's pg_md5_hash. */
int pgr_crypto_md5_hex(const void *data, size_t len, char out[PGR_MD5_HEX_LEN + 1]) PGR_MUSTCHECK;

/* true when the n bytes at a and b are equal; the time taken depends on n only (CRYPTO_memcmp). */
bool pgr_crypto_memeq(const void *a, const void *b, size_t n);
/* Overwrite n bytes so the compiler cannot drop the store (OPENSSL_cleanse). NULL is a no-op. */
void pgr_crypto_wipe(void *p, size_t n);

/* Base64 (RFC 4648, standard alphabet, padded).
 *
 * pgr_crypto_base64_enc_len(n) is the encoded length of n bytes, without a NUL.
 * pgr_crypto_base64_encode writes that many characters and a NUL to dst (dstcap must be at least
 * enc_len + 1, or PGR_EINVAL) and returns the length written, or a negative PGR_E* code.
 *
 * pgr_crypto_base64_decode is strict: the length must be a multiple of 4, only the alphabet is
 * allowed (no whitespace), '=' only as one or two final pads, and the unused bits before a pad
 * must be zero, so every byte string has exactly one accepted encoding. It returns the number of
 * bytes written to dst (at most dstcap), PGR_EINVAL for a malformed input, or PGR_ELIMIT when
 * the result does not fit in dstcap. pgr_crypto_base64_dec_len(n) bounds the result. */
size_t pgr_crypto_base64_enc_len(size_t n);
size_t pgr_crypto_base64_dec_len(size_t n);
int pgr_crypto_base64_encode(const uint8_t *src, size_t n, char *dst, size_t dstcap) PGR_MUSTCHECK;
int pgr_crypto_base64_decode(const char *src, size_t n, uint8_t *dst, size_t dstcap) PGR_MUSTCHECK;

/* ---- client-facing TLS ----------------------------------------------------------------------
 *
 * A context is built once at daemon start and shared by every session; it is immutable after
 * pgr_tls_ctx_new. Each session holds a reference (single-threaded count), so the context
 * is freed by whichever of pgr_tls_ctx_free and the last pgr_tls_session_free comes last.
 *
 * A session is the TLS state of one connection with no I/O of its own:
 *
 *   socket ──► rx (ciphertext, filled by the owner) ──► pgr_tls_read() ──► plaintext
 *   plaintext ──► pgr_tls_write() ──► sink(arg, ciphertext) ──► the owner's socket
 *
 * The sink is called synchronously from inside pgr_tls_read (handshake messages, alerts),
 * pgr_tls_write and pgr_tls_shutdown, and must take every byte (return 0) or fail the session
 * (a negative PGR_E* code, which the call then returns). */

typedef struct pgr_tls_ctx pgr_tls_ctx_t;
typedef struct pgr_tls_session pgr_tls_session_t;
typedef int (*pgr_tls_sink_cb)(void *arg, const uint8_t *p, size_t n);

/* A server context from a PEM certificate chain and a PEM private key, which must match:
 * TLS 1.2 and 1.3 only, forward-secret AEAD ciphers, no compression, no renegotiation, no
 * session tickets or cache (as PostgreSQL). An encrypted key is refused (no prompt). On
 * failure returns PGR_ECONFIG with a one-line reason naming the file in err. */
int pgr_tls_ctx_new(const char *cert_file, const char *key_file, pgr_tls_ctx_t **out, char *err,
                    size_t errcap) PGR_MUSTCHECK;
/* NULL is a no-op. */
void pgr_tls_ctx_free(pgr_tls_ctx_t *ctx);

/* A server-side session in the accept state. Returns 0, or PGR_ENOMEM (nothing allocated). */
int pgr_tls_session_new(pgr_tls_ctx_t *ctx, pgr_tls_sink_cb sink, void *arg,
                        pgr_tls_session_t **out) PGR_MUSTCHECK;
/* Frees the session and its buffers; NULL is a no-op. Sends nothing. */
void pgr_tls_session_free(pgr_tls_session_t *s);

/* Where the owner puts ciphertext from the peer (pgr_iobuf_reserve + commit). pgr_tls_read
 * consumes it; what is left is at most part of one record. */
pgr_iobuf_t *pgr_tls_rx(pgr_tls_session_t *s);

/* Advance the handshake and decrypt up to cap bytes into dst. Returns the number of bytes
 * (> 0), 0 when more ciphertext is needed (the handshake may have made progress and produced
 * output through the sink), PGR_ECLOSED when the peer sent close_notify, or PGR_EIO for a
 * TLS failure (pgr_tls_error() says which). Call it until it returns 0: decrypted bytes can
 * wait in the session where no socket poll sees them. */
ssize_t pgr_tls_read(pgr_tls_session_t *s, void *dst, size_t cap);

/* Encrypt n bytes (all of them) through the sink. Returns 0, PGR_EBUSY while the handshake is
 * not finished (nothing taken: keep the bytes and retry after it), or PGR_EIO / the sink's
 * error. */
int pgr_tls_write(pgr_tls_session_t *s, const void *p, size_t n) PGR_MUSTCHECK;

/* Queue a close_notify alert through the sink (once the handshake is done; else a no-op). */
void pgr_tls_shutdown(pgr_tls_session_t *s);

/* Ciphertext and decrypted bytes held by the session and not yet returned by pgr_tls_read. */
size_t pgr_tls_buffered(const pgr_tls_session_t *s);
/* true once the handshake has finished. */
bool pgr_tls_ready(const pgr_tls_session_t *s);
/* true when the client offered ALPN and "postgresql" was selected (every context selects it,
 * and fails a handshake whose client offers only other protocols, as PostgreSQL 17). */
bool pgr_tls_alpn_postgresql(const pgr_tls_session_t *s);
/* The negotiated protocol ("TLSv1.3", "TLSv1.2") once ready, else "". Never NULL. */
const char *pgr_tls_version(const pgr_tls_session_t *s);
/* Why the last PGR_EIO happened (OpenSSL's reason text), or "". Never NULL. */
const char *pgr_tls_error(const pgr_tls_session_t *s);

#endif
