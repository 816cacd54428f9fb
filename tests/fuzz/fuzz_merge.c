/* libFuzzer driver: the broadcast merge engine (fanout/merge) on 3 nodes fed arbitrary message
 * sequences. The input picks the policy, the node column and a plan, then a stream of commands:
 * a structured message (RowDescription / DataRow / CommandComplete / ... built from small pools
 * of types, values and tags, so the merges are reached), a raw message (any type, any body), or
 * a node failure. Whatever comes in: no crash, every feed answers 0, the batch ends once every
 * node has failed or finished, and the output frames as backend messages that all decode, with
 * exactly one ReadyForQuery, last, and DataRows of one result set all of one width. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/merge.h"
#include "protocol/backend.h"
#include "protocol/frame.h"
#include "../unit/protocol/msgs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t
take(in_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static const int32_t oids[] = {23, 20, 25, 1700, 701, 1184, 16, 1186, 21, 1082};
static const char *const vals[] = {"0",  "1",    "-1",  "10",  "2.50", "-0.5", "NaN",
                                   "Infinity", "a", "B",  "",    "t",     "f",
                                   "2024-01-01 00:00:00+00", "2023-12-31 23:00:00-05",
                                   "1999-01-08", "9223372036854775807", "1e300", "x y"};
static const char *const tags[] = {"SELECT", "UPDATE", "INSERT 0", "DELETE", "CREATE TABLE",
                                   "FETCH",  "BEGIN",  "SELECT x"};
static const char *const states[] = {"23505", "42P01", "57014", "08006", "XX000"};
static const char types[] = "TDCZENS123ntIsAHKRd";

/* One structured message of node i into w. */
static void
build(in_t *in, pgr_writer_t *w, int *ncols)
{
    uint8_t t = (uint8_t)types[take(in) % (sizeof(types) - 1)];
    pgr_writer_reset(w);
    switch (t) {
    case 'T': {
        pgr_be_field_t f[6];
        static const char *const names[] = {"a", "b", "c", "d", "e", "f"};
        int n = take(in) % 6;
        uint8_t shape = take(in);
        for (int k = 0; k < n; k++)
            f[k] = (pgr_be_field_t){.name = names[(k + (shape >> 6 == 3)) % 6],
                                    .type_oid = oids[(take(in)) % 10], .typlen = -1,
                                    .typmod = -1, .format = (int16_t)(shape >> k & 1)};
        *ncols = n;
        (void)pgr_be_write_rowdesc(w, n, f);
        break;
    }
    case 'D': {
        pgr_value_t v[6];
        uint8_t b = take(in);
        int n = b & 0x80 ? b % 6 : *ncols;
        for (int k = 0; k < n && k < 6; k++) {
            uint8_t c = take(in);
            if (c == 0xff)
                v[k] = (pgr_value_t){NULL, -1};
            else if (c >= 0xf8) { /* raw binary: 1, 2, 4 or 8 bytes of input */
                static uint8_t raw[6][8];
                int len = 1 << (c & 3);
                for (int j = 0; j < len; j++)
                    raw[k][j] = take(in);
                v[k] = (pgr_value_t){raw[k], len};
            } else {
                const char *s = vals[c % (sizeof(vals) / sizeof(vals[0]))];
                v[k] = (pgr_value_t){(const uint8_t *)s, (int32_t)strlen(s)};
            }
        }
        (void)pgr_be_write_datarow(w, n < 6 ? n : 6, v);
        break;
    }
    case 'C': {
        char tag[64];
        uint8_t b = take(in);
        const char *k = tags[b % 8];
        if (strchr(k, ' ') && strcmp(k, "INSERT 0") != 0)
            snprintf(tag, sizeof(tag), "%s", k);
        else if (strcmp(k, "CREATE TABLE") == 0 || strcmp(k, "BEGIN") == 0)
            snprintf(tag, sizeof(tag), "%s", k);
        else
            snprintf(tag, sizeof(tag), "%s %u", k, (unsigned)take(in) * (b >> 7 ? 1u << 30 : 1u));
        (void)pgr_be_write_complete(w, tag);
        break;
    }
    case 'Z':
        (void)pgr_be_write_ready(w, (uint8_t)"ITEX"[take(in) % 4]);
        break;
    case 'E':
    case 'N': {
        uint8_t b = take(in);
        (void)pgr_be_write_error(w, t == 'N', b & 0x80 ? "FATAL" : t == 'N' ? "NOTICE" : "ERROR",
                                 states[b % 5], b & 0x40 ? "same" : vals[b % 19],
                                 b & 0x20 ? "a detail" : NULL, NULL);
        break;
    }
    case 'S':
        (void)pgr_be_write_param(w, take(in) & 1 ? "DateStyle" : "TimeZone",
                                 take(in) & 1 ? "ISO, MDY" : "UTC");
        break;
    case 't': {
        uint32_t p[3] = {23, 25, (uint32_t)take(in)};
        (void)pgr_be_write_paramdesc(w, take(in) % 4, p);
        break;
    }
    case 'A':
        (void)pgr_be_write_notify(w, 42, "chan", "payload");
        break;
    default: /* the empty messages, and types that do not belong in a query's reply */
        pgr_writer_begin(w, t);
        (void)pgr_writer_finish(w);
        break;
    }
}

/* Frames out and checks the invariants; aborts on a violation. */
static void
check_output(const pgr_writer_t *out)
{
    size_t off = 0;
    int readies = 0, width = -2;
    uint8_t last = 0;
    while (off < out->len) {
        pgr_frame_t f;
        if (pgr_frame_next(out->buf + off, out->len - off, PGR_PHASE_BACKEND, NULL, &f) !=
            PGR_FRAME_OK)
            abort();
        if (msgs_decode(PGR_PHASE_BACKEND, &f, 0, NULL) != 0)
            abort();
        if (f.type == 'Z')
            readies++;
        if (f.type == 'D') {
            pgr_be_datarow_t d;
            if (pgr_be_datarow_decode(f.body, f.body_len, &d) != 0)
                abort();
            if (width >= 0 && d.ncols != width)
                abort();
            width = d.ncols;
        } else if (f.type != 'N' && f.type != 'S' && f.type != 'A') {
            width = -2; /* a new result set may start */
        }
        last = f.type;
        off += f.len;
    }
    if (readies != 1 || last != 'Z')
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pgr_merge_node_t nodes[] = {
        {"pg1", "127.0.0.1:5432"}, {"pg2", "127.0.0.1:5433"}, {"pg3", NULL}};
    in_t in = {data, size};
    uint8_t cfg = take(&in);
    pgr_merge_plan_t plan = {.limit = -1, .offset = -1};
    switch (cfg >> 2 & 3) {
    case 1:
        plan.n_keys = 1 + take(&in) % 3;
        for (int k = 0; k < plan.n_keys; k++) {
            uint8_t b = take(&in);
            plan.keys[k] = (pgr_sort_key_t){.column = b % 6, .desc = b >> 3 & 1,
                                             .nulls_first = b >> 4 & 1};
        }
        break;
    case 2:
        /* plain aggregates, or GROUP BY (NONE: a grouping column) with ORDER BY keys */
        plan.group = cfg & 0x20;
        plan.aggregate = !plan.group;
        plan.n_aggs = take(&in) % 6;
        for (int k = 0; k < plan.n_aggs; k++)
            plan.aggs[k] = (pgr_agg_t)(take(&in) % 5);
        plan.n_keys = plan.group ? take(&in) % 3 : 0;
        for (int k = 0; k < plan.n_keys; k++) {
            uint8_t b = take(&in);
            plan.keys[k] = (pgr_sort_key_t){.column = b % 6, .desc = b >> 3 & 1,
                                             .nulls_first = b >> 4 & 1};
        }
        break;
    case 3:
        plan.unsupported = "GROUP BY";
        break;
    }
    if (cfg & 0x10) {
        plan.limit = take(&in) % 8;
        plan.offset = take(&in) % 4;
    }
    pgr_merge_t *m = NULL;
    pgr_writer_t out, w;
    bool with_plan = (cfg >> 2 & 3) != 0 || (cfg & 0x10);
    if (pgr_merge_new(with_plan ? &plan : NULL, 3, nodes, cfg & 1 ? PGR_MERGE_FAIL : PGR_MERGE_WARN,
                      cfg & 2, &m) != 0)
        abort();
    if (cfg & 0x40)
        pgr_merge_set_memory(m, 64 + take(&in) * 8u); /* the GROUP BY limit within reach */
    pgr_writer_init_grow(&out);
    pgr_writer_init_grow(&w);
    int ncols[3] = {1, 1, 1};
    while (in.n > 0 && !pgr_merge_done(m)) {
        uint8_t op = take(&in);
        int i = op % 3, what = op / 3 % 8;
        int rc = 0;
        if (what == 7) {
            if (pgr_merge_fail(m, i, "08006", "connection lost", &out) != 0)
                abort();
            continue;
        }
        if (what == 6) { /* raw */
            uint8_t t = take(&in);
            size_t len = take(&in) % 24;
            uint8_t body[24];
            for (size_t k = 0; k < len; k++)
                body[k] = take(&in);
            pgr_writer_reset(&w);
            pgr_writer_begin(&w, t);
            pgr_writer_put_bytes(&w, body, len);
            (void)pgr_writer_finish(&w);
        } else {
            build(&in, &w, &ncols[i]);
        }
        if (w.err || !pgr_merge_wants(m, i))
            continue;
        rc = pgr_merge_feed(m, i, w.buf[0], w.buf + 5, w.len - 5, &out);
        if (rc != 0)
            abort();
    }
    /* Whatever is left fails: the batch must end. */
    for (int i = 0; i < 3; i++)
        if (pgr_merge_fail(m, i, "57014", "timed out", &out) != 0)
            abort();
    if (!pgr_merge_done(m))
        abort();
    for (int i = 0; i < 3; i++) {
        bool ok;
        uint64_t rows;
        const char *st, *msg;
        if (pgr_merge_wants(m, i))
            abort();
        pgr_merge_node_result(m, i, &ok, &rows, &st, &msg);
        if (!ok && (st == NULL || msg == NULL))
            abort();
    }
    if (out.err)
        abort();
    check_output(&out);
    pgr_merge_free(m);
    pgr_writer_free(&out);
    pgr_writer_free(&w);
    return 0;
}
