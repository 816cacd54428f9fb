/* iobuf: growable contiguous byte buffers with a hard cap and lazy allocation (see iobuf.h). */
#include <string.h>

#include "net/iobuf.h"

void
pgr_iobuf_init(pgr_iobuf_t *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit ? limit : PGR_IOBUF_DEFAULT_LIMIT;
}

void
pgr_iobuf_free(pgr_iobuf_t *b)
{
    free(b->mem);
    b->mem = NULL;
    b->start = b->end = b->cap = 0;
}

/* Move the data to offset 0 so the whole free space is at the tail. */
static void
compact(pgr_iobuf_t *b)
{
    size_t len = pgr_iobuf_len(b);

    if (b->start == 0)
        return;
    if (len > 0)
        memmove(b->mem, b->mem + b->start, len);
    b->start = 0;
    b->end = len;
}

/* Move the data to offset 0 of a fresh block of cap bytes (cap >= the data's length), freeing
 * the old one; rather than realloc, which would copy the consumed prefix too. On PGR_ENOMEM
 * the buffer is unchanged. */
static int
rehome(pgr_iobuf_t *b, size_t cap)
{
    size_t len = pgr_iobuf_len(b);
    uint8_t *mem = malloc(cap);

    if (mem == NULL)
        return PGR_ENOMEM;
    if (len > 0)
        memcpy(mem, b->mem + b->start, len);
    free(b->mem);
    b->mem = mem;
    b->start = 0;
    b->end = len;
    b->cap = cap;
    return 0;
}

int
pgr_iobuf_ensure(pgr_iobuf_t *b, size_t n)
{
    size_t len = pgr_iobuf_len(b);
    size_t need, cap;

    if (b->cap - b->end >= n)
        return 0;
    if (n > b->limit || len > b->limit - n)
        return PGR_ELIMIT;
    need = len + n;
    if (b->cap >= need) {
        /* Room exists, only in front: compacting is enough. */
        compact(b);
        return 0;
    }
    cap = b->cap ? b->cap : PGR_IOBUF_MIN_ALLOC;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->limit)
        cap = b->limit;
    return rehome(b, cap);
}

uint8_t *
pgr_iobuf_reserve(pgr_iobuf_t *b, size_t n)
{
    if (pgr_iobuf_ensure(b, n) != 0)
        return NULL;
    /* A zero-byte reservation on a never-used buffer still has no memory to point at. */
    return b->mem ? b->mem + b->end : NULL;
}

void
pgr_iobuf_commit(pgr_iobuf_t *b, size_t n)
{
    pgr_assert(n <= b->cap - b->end);
    b->end += n;
}

void
pgr_iobuf_consume(pgr_iobuf_t *b, size_t n)
{
    pgr_assert(n <= pgr_iobuf_len(b));
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

int
pgr_iobuf_append(pgr_iobuf_t *b, const void *p, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = pgr_iobuf_ensure(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->mem + b->end, p, n);
    b->end += n;
    return 0;
}

void
pgr_iobuf_trim(pgr_iobuf_t *b)
{
    size_t len = pgr_iobuf_len(b);
    size_t cap;

    if (len == 0) {
        pgr_iobuf_free(b);
        return;
    }
    if (b->cap <= PGR_IOBUF_MIN_ALLOC || len > b->cap / 4)
        return;
    cap = PGR_IOBUF_MIN_ALLOC;
    while (cap < len * 2)
        cap *= 2;
    if (cap >= b->cap)
        return;
    (void)rehome(b, cap); /* out of memory: keep the larger block */
}
