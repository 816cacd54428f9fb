/* The bounds-checked message reader (see reader.h). Lengths are compared as `avail < need`,
 * never by subtracting one unsigned length from another. */
#include <string.h>

#include "protocol/reader.h"

void
pgr_reader_init(pgr_reader_t *r, const void *buf, size_t len)
{
    r->err = 0;
    if (buf == NULL) { /* NULL + 0 is undefined; read from an empty string instead */
        r->p = r->end = (const uint8_t *)"";
        if (len != 0)
            r->err = PGR_EINVAL;
        return;
    }
    r->p = buf;
    r->end = r->p + len;
}

size_t
pgr_reader_avail(const pgr_reader_t *r)
{
    return r->err ? 0 : (size_t)(r->end - r->p);
}

void
pgr_reader_fail(pgr_reader_t *r, int err)
{
    if (r->err == 0)
        r->err = err;
}

/* Claims n bytes, or records PGR_ETRUNC and returns NULL. */
static const uint8_t *
take(pgr_reader_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if ((size_t)(r->end - r->p) < n) {
        r->err = PGR_ETRUNC;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    return at;
}

uint8_t
pgr_reader_u8(pgr_reader_t *r)
{
    const uint8_t *b = take(r, 1);
    return b ? b[0] : 0;
}

int16_t
pgr_reader_i16(pgr_reader_t *r)
{
    const uint8_t *b = take(r, 2);
    return b ? (int16_t)pgr_be16(b) : 0;
}

int32_t
pgr_reader_i32(pgr_reader_t *r)
{
    const uint8_t *b = take(r, 4);
    return b ? (int32_t)pgr_be32(b) : 0;
}

const char *
pgr_reader_cstr(pgr_reader_t *r, size_t *len)
{
    if (len)
        *len = 0;
    if (r->err)
        return NULL;
    size_t avail = (size_t)(r->end - r->p);
    const uint8_t *nul = avail ? memchr(r->p, 0, avail) : NULL;
    if (nul == NULL) {
        r->err = PGR_ENOTERM;
        return NULL;
    }
    const char *s = (const char *)r->p;
    if (len)
        *len = (size_t)(nul - r->p);
    r->p = nul + 1;
    return s;
}

const uint8_t *
pgr_reader_bytes(pgr_reader_t *r, size_t n)
{
    return take(r, n);
}

const uint8_t *
pgr_reader_rest(pgr_reader_t *r, size_t *n)
{
    *n = 0;
    if (r->err)
        return NULL;
    *n = (size_t)(r->end - r->p);
    const uint8_t *at = r->p;
    r->p = r->end;
    return at;
}

int
pgr_reader_end(const pgr_reader_t *r)
{
    if (r->err)
        return r->err;
    return r->p == r->end ? 0 : PGR_ETRAILING;
}
