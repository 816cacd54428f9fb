/* A bounds-checked reader over one message body, as PostgreSQL's pq_getmsg*: every read checks
 * what is left, the first failure sticks (later reads return 0 / NULL and change nothing), and
 * pgr_reader_end() says whether the message was consumed exactly. */
#ifndef PGR_PROTOCOL_READER_H
#define PGR_PROTOCOL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgrouter/error.h"

/* The reader borrows its buffer; nothing is copied. err is 0 or the first PGR_E* code. */
typedef struct {
    const uint8_t *p;   /* next unread byte */
    const uint8_t *end; /* one past the last byte */
    int err;
} pgr_reader_t;

void pgr_reader_init(pgr_reader_t *r, const void *buf, size_t len);

/* Bytes not yet read (0 after a failure). */
size_t pgr_reader_avail(const pgr_reader_t *r);

/* Fixed-size big-endian integers; 0 and PGR_ETRUNC when too few bytes are left. */
uint8_t pgr_reader_u8(pgr_reader_t *r);
int16_t pgr_reader_i16(pgr_reader_t *r);
int32_t pgr_reader_i32(pgr_reader_t *r);

/* A NUL-terminated string: the NUL must lie inside the buffer (else PGR_ENOTERM and NULL). The
 * result points into the buffer and is a valid C string; *len (may be NULL) gets strlen. */
const char *pgr_reader_cstr(pgr_reader_t *r, size_t *len);

/* n raw bytes (a pointer into the buffer; never NULL for n == 0 on success), or NULL and
 * PGR_ETRUNC. */
const uint8_t *pgr_reader_bytes(pgr_reader_t *r, size_t n);

/* All remaining bytes (possibly zero); *n gets their count. */
const uint8_t *pgr_reader_rest(pgr_reader_t *r, size_t *n);

/* Records err (a negative PGR_E* code) unless a failure is already recorded. */
void pgr_reader_fail(pgr_reader_t *r, int err);

/* The message's verdict: the sticky error, else PGR_ETRAILING when bytes are left, else 0. */
int pgr_reader_end(const pgr_reader_t *r);

/* True only if no read failed and every byte was consumed. */
static inline bool
pgr_reader_done(const pgr_reader_t *r)
{
    return pgr_reader_end(r) == 0;
}

/* Big-endian helpers for already bounds-checked memory (frame headers, validated arrays). */
static inline uint32_t
pgr_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint16_t
pgr_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
