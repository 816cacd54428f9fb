/* Test support for the merge engine: node messages from a one-line spec, fed through the
 * engine, and the client's output rendered one line per message so tests compare text.
 *
 *   spec                       message
 *   "T a:23|b:25:1"            RowDescription (name:type OID[:format])
 *   "D 1|x|\N"                 DataRow (text values; \N is NULL; "D" alone: no columns)
 *   "C SELECT 3"               CommandComplete
 *   "Z I"                      ReadyForQuery
 *   "E 23505 msg[|detail]"     ErrorResponse (severity ERROR)
 *   "F 57P01 msg"              ErrorResponse (severity FATAL)
 *   "N msg"                    NoticeResponse (NOTICE 00000)
 *   "S name=value"             ParameterStatus
 *   "t 23|25"                  ParameterDescription
 *   "1" "2" "3" "n" "I" "s"    the empty messages
 *
 * Rendered output: the same forms ("E sqlstate message|detail", "N severity sqlstate
 * message|detail"); binary-looking values as 0x hex. */
#ifndef PGR_TEST_MERGE_SUPPORT_H
#define PGR_TEST_MERGE_SUPPORT_H

#include <stdio.h>
#include <string.h>

#include "fanout/merge.h"
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "protocol/reader.h"

static const pgr_merge_node_t ms_nodes[] = {
    {"pg1", "127.0.0.1:5432"}, {"pg2", "127.0.0.1:5433"}, {"pg3", "127.0.0.1:5434"},
    {"pg4", "127.0.0.1:5435"},
};

/* Splits s at sep into at most max parts (copied into buf); returns the count. */
static inline int
ms_split(const char *s, char sep, char *buf, size_t cap, char **parts, int max)
{
    snprintf(buf, cap, "%s", s);
    int n = 0;
    char *p = buf;
    while (n < max) {
        parts[n++] = p;
        char *q = strchr(p, sep);
        if (q == NULL)
            break;
        *q = '\0';
        p = q + 1;
    }
    return n;
}

/* Encodes spec into w (reset first). */
static inline void
ms_build(pgr_writer_t *w, const char *spec)
{
    char buf[4096], *parts[256] = {0};
    const char *arg = spec[1] == ' ' ? spec + 2 : "";
    pgr_writer_reset(w);
    switch (spec[0]) {
    case 'T': {
        int n = ms_split(arg, '|', buf, sizeof(buf), parts, 256);
        pgr_be_field_t f[256];
        for (int k = 0; k < n; k++) {
            char *name = parts[k], *oid = strchr(name, ':'), *fmt;
            *oid++ = '\0';
            fmt = strchr(oid, ':');
            f[k] = (pgr_be_field_t){.name = name, .type_oid = atoi(oid), .typlen = -1,
                                    .typmod = -1, .format = fmt ? (int16_t)atoi(fmt + 1) : 0};
        }
        (void)pgr_be_write_rowdesc(w, n, f);
        break;
    }
    case 'D': {
        pgr_value_t v[256];
        int n = spec[1] ? ms_split(arg, '|', buf, sizeof(buf), parts, 256) : 0;
        for (int k = 0; k < n; k++)
            v[k] = strcmp(parts[k], "\\N") == 0
                       ? (pgr_value_t){NULL, -1}
                       : (pgr_value_t){(const uint8_t *)parts[k], (int32_t)strlen(parts[k])};
        (void)pgr_be_write_datarow(w, n, v);
        break;
    }
    case 'C':
        (void)pgr_be_write_complete(w, arg);
        break;
    case 'Z':
        (void)pgr_be_write_ready(w, (uint8_t)arg[0]);
        break;
    case 'E':
    case 'F': {
        int n = ms_split(arg + 6, '|', buf, sizeof(buf), parts, 2);
        char st[6];
        memcpy(st, arg, 5);
        st[5] = '\0';
        (void)pgr_be_write_error(w, false, spec[0] == 'E' ? "ERROR" : "FATAL", st, parts[0],
                                 n > 1 ? parts[1] : NULL, NULL);
        break;
    }
    case 'N':
        (void)pgr_be_write_error(w, true, "NOTICE", "00000", arg, NULL, NULL);
        break;
    case 'S': {
        ms_split(arg, '=', buf, sizeof(buf), parts, 2);
        (void)pgr_be_write_param(w, parts[0], parts[1]);
        break;
    }
    case 't': {
        uint32_t oids[64];
        int n = spec[1] ? ms_split(arg, '|', buf, sizeof(buf), parts, 64) : 0;
        for (int k = 0; k < n; k++)
            oids[k] = (uint32_t)atoi(parts[k]);
        (void)pgr_be_write_paramdesc(w, n, oids);
        break;
    }
    default:
        pgr_writer_begin(w, (uint8_t)spec[0]);
        (void)pgr_writer_finish(w);
        break;
    }
}

/* Feeds one message of spec to node i; returns the engine's answer. */
static inline int
ms_feed(pgr_merge_t *m, int i, const char *spec, pgr_writer_t *out)
{
    pgr_writer_t w;
    pgr_writer_init_grow(&w);
    ms_build(&w, spec);
    int rc = w.err ? w.err : pgr_merge_feed(m, i, w.buf[0], w.buf + 5, w.len - 5, out);
    pgr_writer_free(&w);
    return rc;
}

/* Feeds a sequence: "0:T a:23", "1:D 5", ... (node index, colon, spec); stops at NULL or at
 * the first failure, whose index it returns (-1: all fed with 0). */
static inline int
ms_feed_all(pgr_merge_t *m, const char *const *seq, pgr_writer_t *out)
{
    for (int k = 0; seq[k]; k++)
        if (ms_feed(m, seq[k][0] - '0', seq[k] + 2, out) != 0)
            return k;
    return -1;
}

static inline void
ms_put_value(char **p, char *end, const uint8_t *d, int32_t len)
{
    bool text = true;
    for (int32_t k = 0; k < len; k++)
        text = text && d[k] >= 0x20 && d[k] < 0x7f && d[k] != '|';
    if (len < 0)
        *p += snprintf(*p, (size_t)(end - *p), "\\N");
    else if (text)
        *p += snprintf(*p, (size_t)(end - *p), "%.*s", (int)len, (const char *)d);
    else {
        *p += snprintf(*p, (size_t)(end - *p), "0x");
        for (int32_t k = 0; k < len && *p < end - 3; k++)
            *p += snprintf(*p, (size_t)(end - *p), "%02x", d[k]);
    }
}

/* Renders every message in out, one line each, into a static buffer (NULL when out does not
 * frame or a message does not decode). */
static inline const char *
ms_render(const pgr_writer_t *out)
{
    static char text[1 << 16];
    char *p = text, *end = text + sizeof(text) - 512;
    size_t off = 0;
    text[0] = '\0';
    while (off < out->len && p < end) {
        pgr_frame_t f;
        if (pgr_frame_next(out->buf + off, out->len - off, PGR_PHASE_BACKEND, NULL, &f) !=
            PGR_FRAME_OK)
            return NULL;
        off += f.len;
        if (p != text)
            *p++ = '\n';
        switch (f.type) {
        case 'T': {
            pgr_be_rowdesc_t t;
            pgr_be_rowdesc_iter_t it;
            pgr_be_field_t fl;
            if (pgr_be_rowdesc_decode(f.body, f.body_len, &t))
                return NULL;
            p += snprintf(p, (size_t)(end - p), "T ");
            pgr_be_rowdesc_iter(&t, &it);
            for (int k = 0; pgr_be_rowdesc_next(&it, &fl); k++)
                p += snprintf(p, (size_t)(end - p), "%s%s:%d%s", k ? "|" : "", fl.name,
                              (int)fl.type_oid, fl.format ? ":1" : "");
            break;
        }
        case 'D': {
            pgr_be_datarow_t d;
            pgr_value_iter_t it;
            pgr_value_t v;
            if (pgr_be_datarow_decode(f.body, f.body_len, &d))
                return NULL;
            p += snprintf(p, (size_t)(end - p), "D ");
            pgr_be_datarow_iter(&d, &it);
            for (int k = 0; pgr_value_next(&it, &v); k++) {
                if (k)
                    *p++ = '|';
                ms_put_value(&p, end, v.data, v.len);
            }
            break;
        }
        case 'C': {
            pgr_be_complete_t c;
            if (pgr_be_complete_decode(f.body, f.body_len, &c))
                return NULL;
            p += snprintf(p, (size_t)(end - p), "C %s", c.tag);
            break;
        }
        case 'Z':
            p += snprintf(p, (size_t)(end - p), "Z %c", f.body[0]);
            break;
        case 'E':
        case 'N': {
            pgr_be_notice_t n;
            if (pgr_be_notice_decode(f.body, f.body_len, &n))
                return NULL;
            if (f.type == 'E')
                p += snprintf(p, (size_t)(end - p), "E %s %s", n.sqlstate, n.message);
            else
                p += snprintf(p, (size_t)(end - p), "N %s %s %s", n.severity, n.sqlstate,
                              n.message);
            if (n.detail)
                p += snprintf(p, (size_t)(end - p), "|%s", n.detail);
            break;
        }
        case 'S': {
            pgr_be_param_t s;
            if (pgr_be_param_decode(f.body, f.body_len, &s))
                return NULL;
            p += snprintf(p, (size_t)(end - p), "S %s=%s", s.name, s.value);
            break;
        }
        default:
            p += snprintf(p, (size_t)(end - p), "%c", f.type);
            break;
        }
    }
    return text;
}

#endif

#ifndef PGR_TEST_MERGE_DRIVE
#define PGR_TEST_MERGE_DRIVE
/* Feeds n node streams (NULL-terminated spec lists) round-robin, one message per wanted node
 * per round, until every stream is fed. Returns 0, the first error, or -1 when no node can
 * move while messages are left (a lockstep stall). */
static inline int
ms_drive(pgr_merge_t *m, int n, const char *const *const *streams, pgr_writer_t *out)
{
    int pos[8] = {0};
    for (;;) {
        bool left = false, moved = false;
        for (int i = 0; i < n; i++) {
            if (streams[i][pos[i]] == NULL)
                continue;
            left = true;
            if (!pgr_merge_wants(m, i))
                continue;
            int rc = ms_feed(m, i, streams[i][pos[i]++], out);
            if (rc)
                return rc;
            moved = true;
        }
        if (!left)
            return 0;
        if (!moved)
            return -1;
    }
}
#endif
