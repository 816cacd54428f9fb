/* Streaming checks of backend message bodies. See becheck.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/becheck.h"
#include "protocol/frame.h"
#include "protocol/reader.h"

/* Where a checker is inside a body:
 *
 *   DataRow          COUNT (2) { LEN (4) VALUE (len) } ... DONE
 *   RowDescription   COUNT (2) PASS
 *   Error / Notice   { CODE (1) STRING (..NUL) } ... CODE (NUL) DONE
 *   ParameterStatus  STRING STRING DONE
 *   anything else    PASS
 */
enum { ST_COUNT, ST_LEN, ST_VALUE, ST_CODE, ST_STRING, ST_DONE, ST_PASS };

static const char *
name(uint8_t type)
{
    const char *n = pgr_frame_type_name(type, PGR_PHASE_BACKEND);
    return n ? n : "message";
}

static int
fail(pgr_becheck_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
    va_end(ap);
    c->err = PGR_EPROTO;
    return c->err;
}

static int
end_check(pgr_becheck_t *c)
{
    switch (c->type) {
    case 'D':
        if (c->step != ST_DONE)
            return fail(c, "DataRow ends before its fields do");
        return 0;
    case 'T':
        if (c->step == ST_COUNT)
            return fail(c, "RowDescription without its field count");
        return 0;
    case 'E':
    case 'N':
    case 'S':
        if (c->step != ST_DONE)
            return fail(c, "%s not terminated", name(c->type));
        if (c->type == 'E' && !c->has_code)
            return fail(c, "ErrorResponse without a SQLSTATE");
        return 0;
    default:
        return 0;
    }
}

void
pgr_becheck_init(pgr_becheck_t *c)
{
    memset(c, 0, sizeof(*c));
    c->ncols = -1;
    c->step = ST_PASS;
}

int
pgr_becheck_begin(pgr_becheck_t *c, uint8_t type, uint32_t body_len)
{
    if (c->err)
        return c->err;
    c->type = type;
    c->left = body_len;
    c->skip = 0;
    c->word_len = 0;
    c->has_code = 0;
    c->fields = 0;
    /* Rows answer the RowDescription before them; notices, parameter changes and
     * notifications may come between them. */
    if (type != 'D' && type != 'N' && type != 'S' && type != 'A')
        c->ncols = -1;
    switch (type) {
    case 'D':
    case 'T':
        c->step = ST_COUNT;
        break;
    case 'E':
    case 'N':
        c->step = ST_CODE;
        break;
    case 'S':
        c->step = ST_STRING;
        c->fields = 2;
        break;
    default:
        c->step = ST_PASS;
        break;
    }
    return body_len == 0 ? end_check(c) : 0;
}

/* A count or length word is complete in c->word. */
static int
word_done(pgr_becheck_t *c, size_t rest)
{
    if (c->step == ST_COUNT) {
        int16_t n = (int16_t)(c->word[0] << 8 | c->word[1]);
        if (n < 0)
            return fail(c, "%s field count %d", name(c->type), n);
        if (c->type == 'T') {
            c->ncols = n;
            c->step = ST_PASS;
            return 0;
        }
        if (c->ncols >= 0 && n != c->ncols)
            return fail(c, "DataRow has %d fields, its RowDescription %d", n, (int)c->ncols);
        c->fields = n;
        c->step = n > 0 ? ST_LEN : ST_DONE;
        return 0;
    }
    int32_t len = (int32_t)pgr_be32(c->word);
    if (len < -1)
        return fail(c, "DataRow field length %d", (int)len);
    if (len > 0 && (uint32_t)len > rest)
        return fail(c, "DataRow field length %d past the end of the message", (int)len);
    c->fields--;
    c->skip = len > 0 ? (uint32_t)len : 0;
    c->step = c->skip > 0 ? ST_VALUE : c->fields > 0 ? ST_LEN : ST_DONE;
    return 0;
}

/* DataRow fields whose length words lie whole in [*pp, end): walked until one does not, or a
 * value runs past end (then skipped in later pieces). */
static int
fields_fast(pgr_becheck_t *c, const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp;

    while (c->fields > 0 && end - p >= 4) {
        int32_t len = (int32_t)pgr_be32(p);
        size_t avail;

        p += 4;
        avail = (size_t)(end - p);
        if (len < -1)
            return fail(c, "DataRow field length %d", (int)len);
        if (len > 0 && (uint32_t)len > avail + c->left)
            return fail(c, "DataRow field length %d past the end of the message", (int)len);
        c->fields--;
        if (len > 0 && (size_t)len > avail) {
            c->skip = (uint32_t)((size_t)len - avail);
            c->step = ST_VALUE;
            *pp = end;
            return 0;
        }
        if (len > 0)
            p += len;
    }
    c->step = c->fields > 0 ? ST_LEN : ST_DONE;
    *pp = p;
    return 0;
}

int
pgr_becheck_feed(pgr_becheck_t *c, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;

    if (c->err)
        return c->err;
    if (n > c->left)
        return fail(c, "%s longer than its length", name(c->type));
    c->left -= (uint32_t)n;
    while (p < end) {
        size_t avail = (size_t)(end - p), k;
        const uint8_t *nul;

        switch (c->step) {
        case ST_LEN:
            if (c->word_len == 0 && avail >= 4) {
                /* The common case, whole fields in this piece: walk them in one loop. */
                if (fields_fast(c, &p, end) != 0)
                    return c->err;
                break;
            }
            /* fall through */
        case ST_COUNT:
            k = (c->step == ST_COUNT ? 2u : 4u) - c->word_len;
            if (k > avail)
                k = avail;
            memcpy(c->word + c->word_len, p, k);
            c->word_len += (uint8_t)k;
            p += k;
            if (c->word_len == (c->step == ST_COUNT ? 2 : 4)) {
                c->word_len = 0;
                if (word_done(c, (size_t)(end - p) + c->left) != 0)
                    return c->err;
            }
            break;
        case ST_VALUE:
            k = c->skip < avail ? c->skip : avail;
            p += k;
            c->skip -= (uint32_t)k;
            if (c->skip == 0)
                c->step = c->fields > 0 ? ST_LEN : ST_DONE;
            break;
        case ST_CODE:
            if (*p == 'C')
                c->has_code = 1;
            c->step = *p++ == 0 ? ST_DONE : ST_STRING;
            break;
        case ST_STRING:
            if ((nul = memchr(p, 0, avail)) == NULL) {
                p = end;
                break;
            }
            p = nul + 1;
            if (c->type != 'S')
                c->step = ST_CODE;
            else if (--c->fields == 0)
                c->step = ST_DONE;
            break;
        case ST_DONE:
            return fail(c, "%s has bytes after its end", name(c->type));
        default:
            p = end;
            break;
        }
    }
    return c->left == 0 ? end_check(c) : 0;
}
