/* net/tls: the one module that uses OpenSSL. For now it holds the crypto primitives client
 * authentication needs (random bytes, SHA-256, HMAC, PBKDF2, MD5, constant-time compare) and a
 * strict base64 codec; client-facing TLS contexts will live here too. */
#ifndef PGR_NET_TLS_H
#define PGR_NET_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "core/base.h"

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

#endif
