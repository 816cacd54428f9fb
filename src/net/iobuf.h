/* iobuf: a growable, contiguous byte buffer for one direction of a protocol stream.
 * Nothing is allocated until the first byte is reserved, and pgr_iobuf_trim() gives the memory
 * back once the buffer is empty, so an idle connection costs sizeof(pgr_iobuf_t) and no heap. */
#ifndef PGR_NET_IOBUF_H
#define PGR_NET_IOBUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/base.h"

/* One allocation; the data is [start, end):
 *
 *   mem        mem+start              mem+end                mem+cap
 *    | consumed |======== data ========|.... free tail .......|
 *
 * reserve() hands out the free tail (compacting the data to offset 0 before growing),
 * commit() moves end over bytes written there, consume() moves start. When start reaches end
 * both reset to 0, so a buffer drained faster than it fills never moves bytes at all.
 * limit caps len + reserved tail; past it reserve/append fail with PGR_ELIMIT. */
typedef struct pgr_iobuf {
    uint8_t *mem;   /* NULL until first use and after trim */
    size_t start, end, cap;
    size_t limit;   /* hard cap on the allocation */
} pgr_iobuf_t;

#define PGR_IOBUF_MIN_ALLOC ((size_t)4096)
/* The default cap: a 1 GiB message (PostgreSQL's maximum) plus its 5-byte header. */
#define PGR_IOBUF_DEFAULT_LIMIT (((size_t)1 << 30) + 5)

/* An empty buffer with the given cap (0: PGR_IOBUF_DEFAULT_LIMIT). Allocates nothing. */
void pgr_iobuf_init(pgr_iobuf_t *b, size_t limit);
/* Free the memory; b is empty afterwards and may be used again. */
void pgr_iobuf_free(pgr_iobuf_t *b);

static inline uint8_t *
pgr_iobuf_data(const pgr_iobuf_t *b)
{
    return b->mem ? b->mem + b->start : NULL;
}
static inline size_t pgr_iobuf_len(const pgr_iobuf_t *b) { return b->end - b->start; }
/* Bytes allocated (what the buffer costs), for accounting and tests. */
static inline size_t pgr_iobuf_cap(const pgr_iobuf_t *b) { return b->cap; }

/* Make at least n bytes writable at the tail: compact first, grow (doubling, within limit)
 * only if that is not enough. Returns 0, PGR_ELIMIT (len + n > limit) or PGR_ENOMEM. On
 * failure the buffer is unchanged. */
int pgr_iobuf_ensure(pgr_iobuf_t *b, size_t n) PGR_MUSTCHECK;
/* pgr_iobuf_ensure(), then the tail pointer; NULL on failure (see ensure for why). The pointer
 * is valid until the next call that may move data (reserve, ensure, append, trim, free). */
uint8_t *pgr_iobuf_reserve(pgr_iobuf_t *b, size_t n);
/* Bytes writable at the tail without moving or allocating anything. */
static inline size_t pgr_iobuf_tail(const pgr_iobuf_t *b) { return b->cap - b->end; }
/* Declare n bytes written at the tail (n <= the room reserve() guaranteed). */
void pgr_iobuf_commit(pgr_iobuf_t *b, size_t n);
/* Drop n bytes from the front (n <= len). */
void pgr_iobuf_consume(pgr_iobuf_t *b, size_t n);
/* Copy n bytes in at the tail. Returns 0, PGR_ELIMIT or PGR_ENOMEM (nothing appended). */
int pgr_iobuf_append(pgr_iobuf_t *b, const void *p, size_t n) PGR_MUSTCHECK;
/* Give memory back: an empty buffer frees its allocation; a non-empty one whose data would fit
 * in a quarter of its allocation is moved to a smaller one (never below PGR_IOBUF_MIN_ALLOC).
 * Call it when a connection goes idle; a failed shrink keeps the old allocation. */
void pgr_iobuf_trim(pgr_iobuf_t *b);

#endif
