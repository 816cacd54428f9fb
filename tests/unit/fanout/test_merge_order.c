/* Ordered (k-way) and aggregate merges, LIMIT/OFFSET, backpressure, and a property test: random
 * rows on 3 nodes under random sort keys merge into the sorted union. */
#include "../harness.h"
#include "merge_support.h"

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})

static pgr_merge_plan_t
plan_keys(int n, const pgr_sort_key_t *keys)
{
    pgr_merge_plan_t p = {.n_keys = n, .limit = -1, .offset = -1};
    memcpy(p.keys, keys, (size_t)n * sizeof(*keys));
    return p;
}

static const char *
run_plan(const pgr_merge_plan_t *plan, int n, bool nodecol, const char *const *const *streams)
{
    pgr_writer_t out;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    CHECK_INT(pgr_merge_new(plan, n, ms_nodes, PGR_MERGE_WARN, nodecol, &m), 0);
    CHECK_INT(ms_drive(m, n, streams, &out), 0);
    CHECK(pgr_merge_done(m));
    const char *r = ms_render(&out);
    pgr_merge_free(m);
    pgr_writer_free(&out);
    return r;
}

#define ASC(c) {.column = (c)}
#define DESC(c) {.column = (c), .desc = true, .nulls_first = true}

TEST(ordered_ints)
{
    pgr_sort_key_t k[] = {ASC(0)};
    pgr_merge_plan_t p = plan_keys(1, k);
    const char *const *const ss[] = {
        S("T n:23|s:25", "D -5|a", "D 9|b", "D 100|c", "C SELECT 3", "Z I"),
        S("T n:23|s:25", "D 10|d", "D 11|e", "C SELECT 2", "Z I"),
        S("T n:23|s:25", "D -20|f", "D 2|g", "D 99|h", "D 1000|i", "C SELECT 4", "Z I"),
    };
    CHECK_STR(run_plan(&p, 3, false, ss),
              "T n:23|s:25\nD -20|f\nD -5|a\nD 2|g\nD 9|b\nD 10|d\nD 11|e\nD 99|h\nD 100|c\n"
              "D 1000|i\nC SELECT 9\nZ I");
    /* The node column does not shift the plan's column numbers. */
    const char *r = run_plan(&p, 3, true, ss);
    CHECK(r && strstr(r, "T node:25|n:23|s:25\nD pg3|-20|f\nD pg1|-5|a\nD pg3|2|g\n") == r);
}

TEST(ordered_binary_ints)
{
    pgr_sort_key_t k[] = {DESC(0)};
    pgr_merge_plan_t p = plan_keys(1, k);
    /* int4 in binary: 0x00000100 = 256, 0xffffffff = -1, 0x00000002 = 2. Built by hand. */
    pgr_writer_t out, w;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    pgr_writer_init_grow(&w);
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), 0);
    CHECK_INT(ms_feed(m, 0, "T n:23:1", &out), 0);
    CHECK_INT(ms_feed(m, 1, "T n:23:1", &out), 0);
    static const uint8_t v256[] = {1, 0, 0, 0, 0}, vm1[] = {0xff, 0xff, 0xff, 0xff},
                         v2[] = {0, 0, 0, 2};
    struct { int node; const uint8_t *v; } rows[] = {{0, v256}, {1, v2}, {0, vm1}};
    for (size_t r = 0; r < 3; r++) {
        pgr_value_t val = {rows[r].v == v256 ? v256 + 1 : rows[r].v, 4};
        uint8_t b256[4] = {0, 0, 1, 0};
        if (rows[r].v == v256)
            val.data = b256;
        pgr_writer_reset(&w);
        (void)pgr_be_write_datarow(&w, 1, &val);
        CHECK_INT(pgr_merge_feed(m, rows[r].node, 'D', w.buf + 5, w.len - 5, &out), 0);
    }
    CHECK(!pgr_merge_wants(m, 0)); /* -1 waits: pg2 may still send a larger row */
    CHECK_INT(ms_feed(m, 1, "C SELECT 1", &out), 0);
    CHECK_INT(ms_feed(m, 0, "C SELECT 2", &out), 0);
    CHECK_INT(ms_feed(m, 0, "Z I", &out), 0);
    CHECK_INT(ms_feed(m, 1, "Z I", &out), 0);
    CHECK_STR(ms_render(&out), "T n:23:1\nD 0x00000100\nD 0x00000002\nD 0xffffffff\n"
                               "C SELECT 3\nZ I");
    pgr_merge_free(m);
    pgr_writer_free(&out);
    pgr_writer_free(&w);
}

TEST(ordered_text_numeric_nulls)
{
    /* text in C order, then numeric DESC NULLS FIRST within equal text. */
    pgr_sort_key_t k[] = {ASC(0), DESC(1)};
    pgr_merge_plan_t p = plan_keys(2, k);
    const char *const *const ss[] = {
        S("T s:25|x:1700", "D B|10.5", "D a|\\N", "D a|2", "D b|-1", "C SELECT 4", "Z I"),
        S("T s:25|x:1700", "D B|\\N", "D B|9.99", "D a|2.000", "D a|-0.5", "D \\N|1",
          "C SELECT 5", "Z I"),
    };
    CHECK_STR(run_plan(&p, 2, false, ss),
              "T s:25|x:1700\nD B|\\N\nD B|10.5\nD B|9.99\nD a|\\N\nD a|2\nD a|2.000\n"
              "D a|-0.5\nD b|-1\nD \\N|1\nC SELECT 9\nZ I");
    /* ASC NULLS FIRST and DESC NULLS LAST. */
    pgr_sort_key_t k2[] = {{.column = 0, .nulls_first = true}};
    pgr_merge_plan_t p2 = plan_keys(1, k2);
    const char *const *const s2[] = {S("T n:20", "D \\N", "D 3", "C SELECT 2", "Z I"),
                                     S("T n:20", "D 1", "D 5", "C SELECT 2", "Z I")};
    CHECK_STR(run_plan(&p2, 2, false, s2), "T n:20\nD \\N\nD 1\nD 3\nD 5\nC SELECT 4\nZ I");
    pgr_sort_key_t k3[] = {{.column = 0, .desc = true}};
    pgr_merge_plan_t p3 = plan_keys(1, k3);
    const char *const *const s3[] = {S("T n:20", "D 3", "D \\N", "C SELECT 2", "Z I"),
                                     S("T n:20", "D 5", "D 1", "C SELECT 2", "Z I")};
    CHECK_STR(run_plan(&p3, 2, false, s3), "T n:20\nD 5\nD 3\nD 1\nD \\N\nC SELECT 4\nZ I");
}

TEST(ordered_warnings)
{
    pgr_sort_key_t k[] = {ASC(0)};
    pgr_merge_plan_t p = plan_keys(1, k);
    /* pg2 is not sorted (a collation other than C would do this). */
    const char *const *const ss[] = {S("T s:25", "D b", "D d", "C SELECT 2", "Z I"),
                                     S("T s:25", "D c", "D a", "C SELECT 2", "Z I")};
    CHECK_STR(run_plan(&p, 2, false, ss),
              "T s:25\nD b\nD c\nN WARNING 01000 pgrouter: the merged result may not follow its "
              "ORDER BY: node pg2 sent a row that sorts before one already merged (is its "
              "collation C?)\nD a\nD d\nC SELECT 4\nZ I");
    /* A type the merge cannot order: concatenated, with a NOTICE, before any row. */
    const char *const *const s2[] = {S("T i:1186", "D 1 day", "C SELECT 1", "Z I"),
                                     S("T i:1186", "D 2 hours", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&p, 2, false, s2),
              "T i:1186\nN NOTICE 00000 pgrouter: the broadcast result is not merged (ORDER BY "
              "column 1 has type OID 1186, whose order is unknown); the nodes' rows are "
              "concatenated\nD 1 day\nD 2 hours\nC SELECT 2\nZ I");
    /* A timestamp not in ISO style: compared bytewise, with a WARNING. */
    const char *const *const s3[] = {
        S("T t:1114", "D Mon Jan 01 00:00:00 2024", "C SELECT 1", "Z I"),
        S("T t:1114", "D Tue Jan 02 00:00:00 2024", "C SELECT 1", "Z I")};
    const char *r = run_plan(&p, 2, false, s3);
    CHECK(r && strstr(r, "N WARNING 01000 pgrouter: the merged result may not follow its ORDER "
                         "BY: values of ORDER BY column 1 could not be read as type OID 1114") !=
                   NULL);
    /* A plan column the result does not have. */
    pgr_sort_key_t k4[] = {ASC(3)};
    pgr_merge_plan_t p4 = plan_keys(1, k4);
    const char *const *const s4[] = {S("T a:23", "D 2", "C SELECT 1", "Z I"),
                                     S("T a:23", "D 1", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&p4, 2, false, s4),
              "T a:23\nN NOTICE 00000 pgrouter: the broadcast result is not merged (ORDER BY "
              "column 4 is not in the result's 1 columns); the nodes' rows are concatenated\n"
              "D 2\nD 1\nC SELECT 2\nZ I");
}

TEST(unsupported_notice)
{
    pgr_merge_plan_t p = {.limit = -1, .offset = -1, .unsupported = "GROUP BY"};
    const char *const *const ss[] = {S("C SET", "T a:23", "D 1", "C SELECT 1", "Z I"),
                                     S("C SET", "T a:23", "D 2", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&p, 2, false, ss),
              "C SET\nT a:23\nN NOTICE 00000 pgrouter: the broadcast result is not merged "
              "(GROUP BY); the nodes' rows are concatenated\nD 1\nD 2\nC SELECT 2\nZ I");
}

TEST(limit_offset)
{
    pgr_sort_key_t k[] = {ASC(0)};
    pgr_merge_plan_t p = plan_keys(1, k);
    p.limit = 3;
    p.offset = 2;
    /* Each node was asked for LIMIT 5 (n + m). */
    const char *const *const ss[] = {
        S("T n:23", "D 1", "D 4", "D 7", "D 10", "D 13", "C SELECT 5", "Z I"),
        S("T n:23", "D 2", "D 5", "D 8", "D 11", "D 14", "C SELECT 5", "Z I"),
        S("T n:23", "D 3", "D 6", "D 9", "D 12", "D 15", "C SELECT 5", "Z I"),
    };
    CHECK_STR(run_plan(&p, 3, false, ss), "T n:23\nD 3\nD 4\nD 5\nC SELECT 3\nZ I");
    /* LIMIT without ORDER BY: any n rows of the union. */
    pgr_merge_plan_t q = {.limit = 2, .offset = -1};
    CHECK_STR(run_plan(&q, 3, false, ss), "T n:23\nD 1\nD 2\nC SELECT 2\nZ I");
    q.limit = 0;
    CHECK_STR(run_plan(&q, 3, false, ss), "T n:23\nC SELECT 0\nZ I");
}

TEST(backpressure)
{
    pgr_sort_key_t k[] = {ASC(0)};
    pgr_merge_plan_t p = plan_keys(1, k);
    pgr_writer_t out;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), 0);
    CHECK_INT(ms_feed(m, 0, "T n:23", &out), 0);
    CHECK_INT(ms_feed(m, 1, "T n:23", &out), 0);
    CHECK_INT(ms_feed(m, 0, "D 5", &out), 0);
    CHECK(!pgr_merge_wants(m, 0)); /* its head row waits for pg2's */
    CHECK(pgr_merge_wants(m, 1));
    CHECK_INT(ms_feed(m, 0, "D 6", &out), PGR_EBUSY);
    size_t before = out.len;
    CHECK_INT(ms_feed(m, 1, "D 1", &out), 0); /* 1 < 5: placed at once */
    CHECK(out.len > before);
    CHECK(!pgr_merge_wants(m, 0));
    CHECK(pgr_merge_wants(m, 1));
    CHECK_INT(ms_feed(m, 1, "D 7", &out), 0); /* 5 placed; pg2 waits now */
    CHECK(pgr_merge_wants(m, 0));
    CHECK(!pgr_merge_wants(m, 1));
    CHECK_INT(ms_feed(m, 0, "C SELECT 1", &out), 0); /* pg1 done: 7 can go */
    CHECK(!pgr_merge_wants(m, 0));
    CHECK(pgr_merge_wants(m, 1));
    CHECK_INT(ms_feed(m, 1, "C SELECT 2", &out), 0);
    CHECK_INT(ms_feed(m, 1, "Z I", &out), 0);
    CHECK_INT(ms_feed(m, 0, "Z I", &out), 0);
    CHECK_STR(ms_render(&out), "T n:23\nD 1\nD 5\nD 7\nC SELECT 3\nZ I");
    pgr_merge_free(m);
    pgr_writer_free(&out);
}

static pgr_merge_plan_t
plan_aggs(int n, const pgr_agg_t *aggs)
{
    pgr_merge_plan_t p = {.aggregate = true, .n_aggs = n, .limit = -1, .offset = -1};
    memcpy(p.aggs, aggs, (size_t)n * sizeof(*aggs));
    return p;
}

TEST(aggregates)
{
    /* SELECT count(*), count(x), sum(i4), sum(i8), sum(num), min(num), max(t), min(ts), 'k' */
    pgr_agg_t a[] = {PGR_AGG_COUNT, PGR_AGG_COUNT, PGR_AGG_SUM, PGR_AGG_SUM, PGR_AGG_SUM,
                     PGR_AGG_MIN,   PGR_AGG_MAX,   PGR_AGG_MIN, PGR_AGG_NONE};
    pgr_merge_plan_t p = plan_aggs(9, a);
    const char *t = "T count:20|count:20|sum:20|sum:1700|sum:1700|min:1700|max:25|min:1184|"
                    "k:25";
    const char *const *const ss[] = {
        S(t, "D 10|3|100|9223372036854775807|1.50|-2.5|pear|2024-01-01 00:00:00+00|k",
          "C SELECT 1", "Z I"),
        S(t, "D 0|0|\\N|\\N|\\N|\\N|\\N|\\N|k", "C SELECT 1", "Z I"),
        S(t, "D 5|5|-30|10|2.255|-10|plum|2023-12-31 23:00:00-02|k", "C SELECT 1", "Z I"),
    };
    CHECK_STR(run_plan(&p, 3, false, ss),
              "T count:20|count:20|sum:20|sum:1700|sum:1700|min:1700|max:25|min:1184|k:25\n"
              "D 15|8|70|9223372036854775817|3.755|-10|plum|2024-01-01 00:00:00+00|k\n"
              "C SELECT 1\nZ I");
    /* All NULL: sum/min/max are NULL, count 0. Node column: the contributing nodes. */
    pgr_agg_t b[] = {PGR_AGG_COUNT, PGR_AGG_SUM, PGR_AGG_MIN};
    pgr_merge_plan_t q = plan_aggs(3, b);
    const char *const *const s2[] = {S("T c:20|s:1700|m:23", "D 0|\\N|\\N", "C SELECT 1", "Z I"),
                                     S("T c:20|s:1700|m:23", "D 0|\\N|\\N", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&q, 2, true, s2),
              "T node:25|c:20|s:1700|m:23\nD pg1,pg2|0|\\N|\\N\nC SELECT 1\nZ I");
}

TEST(aggregate_failed_node)
{
    pgr_agg_t a[] = {PGR_AGG_SUM};
    pgr_merge_plan_t p = plan_aggs(1, a);
    const char *const *const ss[] = {S("T s:20", "D 4", "C SELECT 1", "Z I"),
                                     S("T s:20", "E 57014 canceling statement", "Z I"),
                                     S("T s:20", "D 6", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&p, 3, false, ss),
              "T s:20\nN WARNING 01000 node pg2 (127.0.0.1:5433) failed: 57014 canceling "
              "statement\nD 10\nC SELECT 1\nZ I");
}

TEST(aggregate_fallbacks)
{
    pgr_agg_t a[] = {PGR_AGG_SUM};
    pgr_merge_plan_t p = plan_aggs(1, a);
    /* sum(float8): not added exactly, said before any row. */
    const char *const *const s1[] = {S("T s:701", "D 0.1", "C SELECT 1", "Z I"),
                                     S("T s:701", "D 0.2", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&p, 2, false, s1),
              "T s:701\nN NOTICE 00000 pgrouter: the broadcast result is not merged (sum column "
              "1 has type OID 701, which is not added exactly); the nodes' rows are "
              "concatenated\nD 0.1\nD 0.2\nC SELECT 2\nZ I");
    /* A node with two rows (the plan was wrong): every row, concatenated. */
    const char *const *const s2[] = {S("T s:20", "D 1", "D 2", "C SELECT 2", "Z I"),
                                     S("T s:20", "D 3", "C SELECT 1", "Z I")};
    CHECK_STR(run_plan(&p, 2, false, s2),
              "T s:20\nN NOTICE 00000 pgrouter: the broadcast result is not merged (node pg1 "
              "returned more than one row); the nodes' rows are concatenated\nD 1\nD 3\nD 2\n"
              "C SELECT 3\nZ I");
    /* int8 overflow. */
    const char *const *const s3[] = {S("T s:20", "D 9223372036854775807", "C SELECT 1", "Z I"),
                                     S("T s:20", "D 1", "C SELECT 1", "Z I")};
    const char *r = run_plan(&p, 2, false, s3);
    CHECK(r && strstr(r, "(the sum of column 1 overflows int8)") != NULL);
    CHECK(r && strstr(r, "D 9223372036854775807\nD 1\nC SELECT 2\nZ I") != NULL);
    /* A plain column that differs between nodes. */
    pgr_agg_t b[] = {PGR_AGG_COUNT, PGR_AGG_NONE};
    pgr_merge_plan_t q = plan_aggs(2, b);
    const char *const *const s4[] = {S("T c:20|now:25", "D 1|x", "C SELECT 1", "Z I"),
                                     S("T c:20|now:25", "D 2|y", "C SELECT 1", "Z I")};
    r = run_plan(&q, 2, false, s4);
    CHECK(r && strstr(r, "(column 2 differs between nodes)") != NULL);
    CHECK(r && strstr(r, "D 1|x\nD 2|y\nC SELECT 2") != NULL);
}

TEST(aggregate_binary_int8)
{
    pgr_agg_t a[] = {PGR_AGG_COUNT};
    pgr_merge_plan_t p = plan_aggs(1, a);
    pgr_writer_t out, w;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    pgr_writer_init_grow(&w);
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), 0);
    CHECK_INT(ms_feed(m, 0, "T count:20:1", &out), 0);
    CHECK_INT(ms_feed(m, 1, "T count:20:1", &out), 0);
    static const uint8_t c1[] = {0, 0, 0, 1, 0, 0, 0, 2}, c2[] = {0, 0, 0, 0, 0, 0, 1, 3};
    const uint8_t *cs[] = {c1, c2};
    for (int i = 0; i < 2; i++) {
        pgr_value_t v = {cs[i], 8};
        pgr_writer_reset(&w);
        (void)pgr_be_write_datarow(&w, 1, &v);
        CHECK_INT(pgr_merge_feed(m, i, 'D', w.buf + 5, w.len - 5, &out), 0);
        CHECK_INT(ms_feed(m, i, "C SELECT 1", &out), 0);
    }
    CHECK_INT(ms_feed(m, 0, "Z I", &out), 0);
    CHECK_INT(ms_feed(m, 1, "Z I", &out), 0);
    CHECK_STR(ms_render(&out), "T count:20:1\nD 0x0000000100000105\nC SELECT 1\nZ I");
    pgr_merge_free(m);
    pgr_writer_free(&out);
    pgr_writer_free(&w);
}

/* ---- the property test -------------------------------------------------------------------- */

/* Row r: id (unique, not a key), an int4, a text, a numeric; each may be NULL but id. */
typedef struct {
    int id;
    bool null[3];
    int i;
    char t[8];
    long long num_milli; /* numeric value * 1000 */
    char num[32];        /* as printed, with a random scale */
} prow_t;

static pgr_sort_key_t pkeys[3];
static int pnkeys;

static int
ref_cmp(const void *pa, const void *pb)
{
    const prow_t *a = pa, *b = pb;
    for (int j = 0; j < pnkeys; j++) {
        int col = pkeys[j].column - 1, c;
        if (a->null[col] || b->null[col]) {
            if (a->null[col] && b->null[col])
                c = 0;
            else
                c = a->null[col] == pkeys[j].nulls_first ? -1 : 1;
        } else {
            if (col == 0)
                c = (a->i > b->i) - (a->i < b->i);
            else if (col == 1)
                c = strcmp(a->t, b->t);
            else
                c = (a->num_milli > b->num_milli) - (a->num_milli < b->num_milli);
            if (pkeys[j].desc)
                c = -c;
        }
        if (c)
            return c < 0 ? -1 : 1;
    }
    return 0;
}

static void
row_text(const prow_t *r, char *buf, size_t cap, bool keys_only)
{
    char f[3][40];
    snprintf(f[0], sizeof(f[0]), "%d", r->i);
    snprintf(f[1], sizeof(f[1]), "%s", r->t);
    snprintf(f[2], sizeof(f[2]), "%s", r->num);
    if (keys_only) {
        size_t n = 0;
        buf[0] = '\0';
        for (int j = 0; j < pnkeys; j++) {
            int col = pkeys[j].column - 1;
            n += (size_t)snprintf(buf + n, cap - n, "%s|", r->null[col] ? "\\N" : f[col]);
        }
        return;
    }
    snprintf(buf, cap, "D %d|%s|%s|%s", r->id, r->null[0] ? "\\N" : f[0],
             r->null[1] ? "\\N" : f[1], r->null[2] ? "\\N" : f[2]);
}

TEST(property_sorted_union)
{
    srand(20240611);
    for (int iter = 0; iter < 300; iter++) {
        prow_t rows[3][40], all[120];
        int nr[3], total = 0;
        for (int i = 0; i < 3; i++) {
            nr[i] = rand() % 40;
            for (int r = 0; r < nr[i]; r++) {
                prow_t *x = &rows[i][r];
                memset(x, 0, sizeof(*x));
                x->id = total++;
                for (int c = 0; c < 3; c++)
                    x->null[c] = rand() % 8 == 0;
                x->i = rand() % 41 - 20;
                int tl = rand() % 3;
                for (int k = 0; k < tl; k++)
                    x->t[k] = "aAbB_z"[rand() % 6];
                x->num_milli = (long long)(rand() % 4001) - 2000;
                int scale = 3 + rand() % 2; /* "1.250" or "1.2500" */
                long long a = llabs(x->num_milli);
                snprintf(x->num, sizeof(x->num), "%s%lld.%03lld%s",
                         x->num_milli < 0 ? "-" : "", a / 1000, a % 1000, scale == 4 ? "0" : "");
            }
        }
        pnkeys = 1 + rand() % 3;
        for (int j = 0; j < pnkeys; j++) {
            pkeys[j].column = 1 + rand() % 3; /* output columns 1..3 (0 is id) */
            pkeys[j].desc = rand() % 2;
            pkeys[j].nulls_first = rand() % 3 == 0 ? !pkeys[j].desc : pkeys[j].desc;
        }
        pgr_merge_plan_t p = plan_keys(pnkeys, pkeys);
        bool limited = rand() % 4 == 0;
        if (limited) {
            p.limit = rand() % 10;
            p.offset = rand() % 5;
        }
        /* Each node's rows in the reference order; the union sorted likewise. */
        int n = 0;
        for (int i = 0; i < 3; i++) {
            qsort(rows[i], (size_t)nr[i], sizeof(prow_t), ref_cmp);
            for (int r = 0; r < nr[i]; r++)
                all[n++] = rows[i][r];
        }
        qsort(all, (size_t)n, sizeof(prow_t), ref_cmp);
        /* Feed in random interleavings. */
        pgr_writer_t out;
        pgr_merge_t *m = NULL;
        pgr_writer_init_grow(&out);
        CHECK_INT(pgr_merge_new(&p, 3, ms_nodes, PGR_MERGE_WARN, false, &m), 0);
        const char *t = "T id:23|i:23|t:25|n:1700";
        int pos[3] = {-1, -1, -1}; /* -1: T next; nr: C next; nr+1: Z next; nr+2: done */
        int guard = 0;
        while (!pgr_merge_done(m) && guard++ < 10000) {
            int i = rand() % 3;
            if (!pgr_merge_wants(m, i))
                continue;
            char spec[128], tag[32];
            if (pos[i] == -1)
                snprintf(spec, sizeof(spec), "%s", t);
            else if (pos[i] < nr[i])
                row_text(&rows[i][pos[i]], spec, sizeof(spec), false);
            else if (pos[i] == nr[i])
                snprintf(tag, sizeof(tag), "C SELECT %d", nr[i]), snprintf(spec, sizeof(spec), "%s", tag);
            else
                snprintf(spec, sizeof(spec), "Z I");
            CHECK_INT(ms_feed(m, i, spec, &out), 0);
            pos[i]++;
        }
        CHECK(pgr_merge_done(m));
        /* Output rows: keys in the reference order, and the same multiset of rows. */
        const char *r = ms_render(&out);
        CHECK(r != NULL);
        int lo = 0, hi = n;
        if (limited) {
            lo = p.offset < n ? (int)p.offset : n;
            hi = lo + (int)p.limit < n ? lo + (int)p.limit : n;
        }
        char want_keys[120][64], got_keys[120][64];
        bool used[120] = {false};
        int ng = 0;
        bool bad = r == NULL || strstr(r, "WARNING") != NULL;
        for (int k = lo; k < hi; k++)
            row_text(&all[k], want_keys[k - lo], sizeof(want_keys[0]), true);
        for (const char *line = r; !bad && line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            if (line[0] != 'D')
                continue;
            int id = atoi(line + 2);
            if (ng >= hi - lo || id < 0 || id >= total) {
                bad = true;
                break;
            }
            const prow_t *src = NULL;
            for (int k = 0; k < n; k++)
                if (all[k].id == id)
                    src = &all[k];
            if (src == NULL || used[id]) {
                bad = true;
                break;
            }
            used[id] = true;
            char full[128];
            row_text(src, full, sizeof(full), false);
            if (strncmp(line, full, strlen(full)) != 0)
                bad = true;
            row_text(src, got_keys[ng++], sizeof(got_keys[0]), true);
        }
        if (ng != hi - lo)
            bad = true;
        for (int k = 0; !bad && k < ng; k++)
            if (strcmp(got_keys[k], want_keys[k]) != 0)
                bad = true;
        char tagline[32];
        snprintf(tagline, sizeof(tagline), "\nC SELECT %d\nZ I", hi - lo);
        if (!bad && (strlen(r) < strlen(tagline) || strcmp(r + strlen(r) - strlen(tagline), tagline)))
            bad = true;
        if (bad) {
            CHECK(!bad);
            printf("# iteration %d: %d keys, limited %d\n%s\n", iter, pnkeys, limited, r ? r : "");
        }
        pgr_merge_free(m);
        pgr_writer_free(&out);
        if (bad)
            break;
    }
}

int
main(void)
{
    return RUN(ordered_ints, ordered_binary_ints, ordered_text_numeric_nulls, ordered_warnings,
               unsupported_notice, limit_offset, backpressure, aggregates, aggregate_failed_node,
               aggregate_fallbacks, aggregate_binary_int8, property_sorted_union);
}
