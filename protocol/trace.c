/* libpq-style trace lines for single frames (see trace.h). Every field is read through the
 * bounds-checked reader, so a malformed frame renders as far as it goes and is marked. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "protocol/backend.h"
#include "protocol/reader.h"
#include "protocol/trace.h"

/* An snprintf-style line builder: len counts what would have been written. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    pgr_reader_t r;
} line_t;

static void
out(line_t *l, const char *s, size_t n)
{
    if (l->len < l->cap) {
        size_t room = l->cap - l->len - 1; /* keep one byte for the NUL */
        size_t k = n < room ? n : room;
        memcpy(l->buf + l->len, s, k);
        l->buf[l->len + k] = '\0';
    }
    l->len += n;
}

static void __attribute__((format(printf, 2, 3)))
outf(line_t *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        out(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void
outs(line_t *l, const char *s)
{
    out(l, s, strlen(s));
}

static bool
printable(uint8_t c)
{
    return c >= 0x20 && c < 0x7f;
}

static void
byte1(line_t *l)
{
    uint8_t c = pgr_reader_u8(&l->r);
    if (l->r.err)
        return;
    if (printable(c))
        outf(l, " %c", c);
    else
        outf(l, " \\x%02x", c);
}

static int
int16(line_t *l)
{
    int16_t v = pgr_reader_i16(&l->r);
    if (!l->r.err)
        outf(l, " %d", v);
    return v;
}

static int32_t
int32(line_t *l)
{
    int32_t v = pgr_reader_i32(&l->r);
    if (!l->r.err)
        outf(l, " %d", v);
    return v;
}

static void
string(line_t *l)
{
    const char *s = pgr_reader_cstr(&l->r, NULL);
    if (s == NULL)
        return;
    outs(l, " \"");
    outs(l, s);
    outs(l, "\"");
}

static void
nchar(line_t *l, size_t n)
{
    const uint8_t *p = pgr_reader_bytes(&l->r, n);
    if (p == NULL)
        return;
    outs(l, " '");
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (printable(p[i]))
            continue;
        out(l, (const char *)p + next, i - next);
        outf(l, "\\x%02x", p[i]);
        next = i + 1;
    }
    out(l, (const char *)p + next, n - next);
    outs(l, "'");
}

static void
rest(line_t *l)
{
    nchar(l, pgr_reader_avail(&l->r));
}

/* A length-prefixed value: the length, then the bytes unless it is -1. */
static void
value(line_t *l)
{
    int32_t n = int32(l);
    if (n > 0 || (n == 0 && !l->r.err))
        nchar(l, (size_t)n);
    else if (n < -1)
        pgr_reader_fail(&l->r, PGR_EPROTO);
}

static void
name(line_t *l, const char *s, bool fields)
{
    outs(l, s);
    if (fields)
        outs(l, "\t");
}

static void
frontend(pgr_trace_t *t, line_t *l, uint8_t type)
{
    int n;
    switch (type) {
    case 'Q': name(l, "Query", true); string(l); break;
    case 'P':
        name(l, "Parse", true);
        string(l);
        string(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            int32(l);
        break;
    case 'B':
        name(l, "Bind", true);
        string(l);
        string(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            int16(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            value(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            int16(l);
        break;
    case 'D': name(l, "Describe", true); byte1(l); string(l); break;
    case 'C': name(l, "Close", true); byte1(l); string(l); break;
    case 'E': name(l, "Execute", true); string(l); int32(l); break;
    case 'S': name(l, "Sync", false); break;
    case 'H': name(l, "Flush", false); break;
    case 'X': name(l, "Terminate", false); break;
    case 'c': name(l, "CopyDone", false); break;
    case 'd': name(l, "CopyData", true); rest(l); break;
    case 'f': name(l, "CopyFail", true); string(l); break;
    case 'F':
        name(l, "FunctionCall", true);
        int32(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            int16(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            value(l);
        int16(l);
        break;
    case 'p':
        switch (t->last_auth) {
        case PGR_AUTHREQ_SASL:
            name(l, "SASLInitialResponse", true);
            string(l);
            value(l);
            break;
        case PGR_AUTHREQ_SASL_CONT:
            name(l, "SASLResponse", true);
            rest(l);
            break;
        case PGR_AUTHREQ_GSS: case PGR_AUTHREQ_GSS_CONT: case PGR_AUTHREQ_SSPI:
            name(l, "GSSResponse", true);
            rest(l);
            break;
        default:
            name(l, "PasswordMessage", true);
            string(l);
            break;
        }
        break;
    default:
        outf(l, "Unknown message: %02x", type);
        pgr_reader_rest(&l->r, &(size_t){0});
        break;
    }
}

static void
backend(pgr_trace_t *t, line_t *l, uint8_t type)
{
    int n;
    switch (type) {
    case 'R': {
        name(l, "Authentication", true);
        int32_t code = int32(l);
        if (l->r.err)
            break;
        t->last_auth = code;
        if (code == PGR_AUTHREQ_MD5) {
            nchar(l, 4);
        } else if (code == PGR_AUTHREQ_SASL) {
            size_t len;
            do { /* the names, then the empty string that ends the list */
                const uint8_t *at = l->r.p;
                if (pgr_reader_cstr(&l->r, &len) == NULL)
                    break;
                l->r.p = at;
                string(l);
            } while (len > 0);
        } else if (code == PGR_AUTHREQ_GSS_CONT || code == PGR_AUTHREQ_SASL_CONT ||
                   code == PGR_AUTHREQ_SASL_FINAL) {
            rest(l);
        }
        break;
    }
    case 'K': name(l, "BackendKeyData", true); int32(l); int32(l); break;
    case 'S': name(l, "ParameterStatus", true); string(l); string(l); break;
    case 'Z': name(l, "ReadyForQuery", true); byte1(l); break;
    case 'T':
        name(l, "RowDescription", true);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++) {
            string(l);
            int32(l);
            int16(l);
            int32(l);
            int16(l);
            int32(l);
            int16(l);
        }
        break;
    case 'D':
        name(l, "DataRow", true);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            value(l);
        break;
    case 'C': name(l, "CommandComplete", true); string(l); break;
    case 'E':
    case 'N':
        name(l, type == 'E' ? "ErrorResponse" : "NoticeResponse", true);
        for (;;) {
            uint8_t code = l->r.err || !pgr_reader_avail(&l->r) ? 0 : *l->r.p;
            byte1(l);
            if (l->r.err || code == 0)
                break;
            string(l);
        }
        break;
    case 'I': name(l, "EmptyQueryResponse", false); break;
    case '1': name(l, "ParseComplete", false); break;
    case '2': name(l, "BindComplete", false); break;
    case '3': name(l, "CloseComplete", false); break;
    case 'n': name(l, "NoData", false); break;
    case 's': name(l, "PortalSuspended", false); break;
    case 'c': name(l, "CopyDone", false); break;
    case 'd': name(l, "CopyData", true); rest(l); break;
    case 't':
        name(l, "ParameterDescription", true);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            int32(l);
        break;
    case 'G':
    case 'H':
    case 'W':
        name(l, type == 'G' ? "CopyInResponse" : type == 'H' ? "CopyOutResponse"
                                                             : "CopyBothResponse", true);
        byte1(l);
        n = int16(l);
        for (int i = 0; i < n && !l->r.err; i++)
            int16(l);
        break;
    case 'A': name(l, "NotificationResponse", true); int32(l); string(l); string(l); break;
    case 'v': {
        name(l, "NegotiateProtocolVersion", true);
        int32(l);
        int32_t k = int32(l);
        for (int32_t i = 0; i < k && !l->r.err; i++)
            string(l);
        break;
    }
    case 'V': name(l, "FunctionCallResponse", true); value(l); break;
    default:
        outf(l, "Unknown message: %02x", type);
        pgr_reader_rest(&l->r, &(size_t){0});
        break;
    }
}

static void
startup(line_t *l, pgr_startup_kind_t kind)
{
    switch (kind) {
    case PGR_STARTUP_SSL: name(l, "SSLRequest", false); pgr_reader_i32(&l->r); break;
    case PGR_STARTUP_GSSENC: name(l, "GSSENCRequest", false); pgr_reader_i32(&l->r); break;
    case PGR_STARTUP_CANCEL: name(l, "CancelRequest", true); int32(l); int32(l); int32(l); break;
    default: {
        name(l, "StartupMessage", true);
        int16(l);
        int16(l);
        size_t len;
        do { /* name/value strings, then the empty string that ends them */
            const uint8_t *at = l->r.p;
            if (pgr_reader_cstr(&l->r, &len) == NULL)
                break;
            l->r.p = at;
            string(l);
        } while (len > 0);
        break;
    }
    }
}

void
pgr_trace_init(pgr_trace_t *t)
{
    t->last_auth = -1;
}

size_t
pgr_trace_frame(pgr_trace_t *t, pgr_phase_t dir, const pgr_frame_t *f, char *buf, size_t cap)
{
    line_t l = {.buf = buf, .cap = cap, .len = 0};
    if (cap)
        buf[0] = '\0';
    pgr_reader_init(&l.r, f->body, f->body_len);
    if (f->startup != PGR_STARTUP_NONE) {
        outf(&l, "F\t%zu\t", f->body_len + 4);
        startup(&l, f->startup);
    } else {
        outf(&l, "%s\t%zu\t", dir == PGR_PHASE_BACKEND ? "B" : "F", f->body_len + 4);
        if (dir == PGR_PHASE_BACKEND)
            backend(t, &l, f->type);
        else
            frontend(t, &l, f->type);
    }
    if (!pgr_reader_done(&l.r))
        outs(&l, "\tmismatched message length");
    return l.len;
}
