/* A message writer with framing and a sticky failure, as PgBouncer's pktbuf: begin() reserves
 * the length word, the put_* calls never need checking, finish() patches the length and returns
 * the one error. Writes go to a caller-owned fixed buffer or to a buffer the writer grows.
 *
 *   buf: [ ...earlier messages... | type | len(4, patched by finish) | body ... ]
 *                                  ^ start (0 type byte for startup forms)
 */
#ifndef PGR_PROTOCOL_WRITER_H
#define PGR_PROTOCOL_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgrouter/error.h"

typedef struct {
    uint8_t *buf;     /* fixed: the caller's; growable: realloc'd, freed by pgr_writer_free */
    size_t len;       /* bytes written so far (complete messages plus the open one) */
    size_t cap;
    size_t start;     /* offset of the open message's length word; SIZE_MAX when none is open */
    bool growable;
    int err;          /* sticky: 0 or the first PGR_E* code */
} pgr_writer_t;

/* Writes into buf[0..cap); running out is PGR_ELIMIT. The caller owns buf. */
void pgr_writer_init_fixed(pgr_writer_t *w, void *buf, size_t cap);
/* Starts empty and grows with realloc (PGR_ENOMEM when that fails). Release with
 * pgr_writer_free(), or take w->buf (then owned by the caller, to free()) and never free. */
void pgr_writer_init_grow(pgr_writer_t *w);
void pgr_writer_free(pgr_writer_t *w);
/* Forgets the contents and the error; keeps the buffer. */
void pgr_writer_reset(pgr_writer_t *w);

/* Opens a message: type byte (none when type is 0: startup forms) and a length placeholder.
 * Opening a second message before finishing the first is PGR_EINVAL. */
void pgr_writer_begin(pgr_writer_t *w, uint8_t type);
/* Closes the open message, patching its length (which counts itself, not the type byte).
 * Returns the sticky error (a message over INT32_MAX bytes is PGR_ELIMIT), else 0. */
int pgr_writer_finish(pgr_writer_t *w);

void pgr_writer_put_u8(pgr_writer_t *w, uint8_t v);
void pgr_writer_put_i16(pgr_writer_t *w, int16_t v);
void pgr_writer_put_i32(pgr_writer_t *w, int32_t v);
void pgr_writer_put_bytes(pgr_writer_t *w, const void *p, size_t n);
/* s and its NUL; NULL is written as the empty string. */
void pgr_writer_put_cstr(pgr_writer_t *w, const char *s);
/* n bytes of s followed by a NUL (s must not contain a NUL within n: PGR_EINVAL). */
void pgr_writer_put_nstr(pgr_writer_t *w, const char *s, size_t n);
/* A length-prefixed value: -1 and nothing for data == NULL, else n and the bytes. */
void pgr_writer_put_value(pgr_writer_t *w, const void *data, int32_t n);

/* Records err unless one is recorded already. */
void pgr_writer_fail(pgr_writer_t *w, int err);

#endif
