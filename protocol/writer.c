/* The framing writer (see writer.h). */
#include <stdlib.h>
#include <string.h>

#include "protocol/writer.h"

#define NO_MESSAGE SIZE_MAX

void
pgr_writer_init_fixed(pgr_writer_t *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->len = 0;
    w->cap = buf ? cap : 0;
    w->start = NO_MESSAGE;
    w->growable = false;
    w->err = 0;
}

void
pgr_writer_init_grow(pgr_writer_t *w)
{
    pgr_writer_init_fixed(w, NULL, 0);
    w->growable = true;
}

void
pgr_writer_free(pgr_writer_t *w)
{
    if (w->growable)
        free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

void
pgr_writer_reset(pgr_writer_t *w)
{
    w->len = 0;
    w->start = NO_MESSAGE;
    w->err = 0;
}

void
pgr_writer_fail(pgr_writer_t *w, int err)
{
    if (w->err == 0)
        w->err = err;
}

/* Makes room for n more bytes; false (and the error recorded) when it cannot. */
static bool
reserve(pgr_writer_t *w, size_t n)
{
    if (w->err)
        return false;
    if (w->cap - w->len >= n)
        return true;
    if (!w->growable || n > SIZE_MAX / 2 - w->len) {
        w->err = w->growable ? PGR_ENOMEM : PGR_ELIMIT;
        return false;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n)
        cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (nb == NULL) {
        w->err = PGR_ENOMEM;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

void
pgr_writer_put_bytes(pgr_writer_t *w, const void *p, size_t n)
{
    if (n == 0 || !reserve(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void
pgr_writer_put_u8(pgr_writer_t *w, uint8_t v)
{
    pgr_writer_put_bytes(w, &v, 1);
}

void
pgr_writer_put_i16(pgr_writer_t *w, int16_t v)
{
    uint16_t u = (uint16_t)v;
    uint8_t b[2] = {(uint8_t)(u >> 8), (uint8_t)u};
    pgr_writer_put_bytes(w, b, 2);
}

void
pgr_writer_put_i32(pgr_writer_t *w, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    pgr_writer_put_bytes(w, b, 4);
}

void
pgr_writer_put_cstr(pgr_writer_t *w, const char *s)
{
    if (s == NULL)
        s = "";
    pgr_writer_put_bytes(w, s, strlen(s) + 1);
}

void
pgr_writer_put_nstr(pgr_writer_t *w, const char *s, size_t n)
{
    if (n && memchr(s, 0, n)) {
        pgr_writer_fail(w, PGR_EINVAL);
        return;
    }
    pgr_writer_put_bytes(w, s, n);
    pgr_writer_put_u8(w, 0);
}

void
pgr_writer_put_value(pgr_writer_t *w, const void *data, int32_t n)
{
    if (data == NULL) {
        pgr_writer_put_i32(w, -1);
        return;
    }
    if (n < 0) {
        pgr_writer_fail(w, PGR_EINVAL);
        return;
    }
    pgr_writer_put_i32(w, n);
    pgr_writer_put_bytes(w, data, (size_t)n);
}

void
pgr_writer_begin(pgr_writer_t *w, uint8_t type)
{
    if (w->start != NO_MESSAGE) {
        pgr_writer_fail(w, PGR_EINVAL);
        return;
    }
    if (type)
        pgr_writer_put_u8(w, type);
    w->start = w->len;
    pgr_writer_put_i32(w, 0);
}

int
pgr_writer_finish(pgr_writer_t *w)
{
    if (w->start == NO_MESSAGE) {
        pgr_writer_fail(w, PGR_EINVAL);
        return w->err;
    }
    size_t start = w->start;
    w->start = NO_MESSAGE;
    if (w->err)
        return w->err;
    size_t n = w->len - start;
    if (n > INT32_MAX) {
        w->err = PGR_ELIMIT;
        return w->err;
    }
    w->buf[start] = (uint8_t)(n >> 24);
    w->buf[start + 1] = (uint8_t)(n >> 16);
    w->buf[start + 2] = (uint8_t)(n >> 8);
    w->buf[start + 3] = (uint8_t)n;
    return 0;
}
