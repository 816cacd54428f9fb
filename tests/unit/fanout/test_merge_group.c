/* GROUP BY merges: groups of 3 nodes combined (count/sum/min/max over int8, numeric, text),
 * NULL groups, an empty node, numerically equal keys, ORDER BY and OFFSET/LIMIT over the
 * merged groups, the node column, what falls back to concatenation, the memory limit's ERROR
 * and the next batch after it. */
#include "../harness.h"
#include "merge_support.h"

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})

static pgr_merge_plan_t
plan_group(const char *aggs)
{
    pgr_merge_plan_t p = {.group = true, .limit = -1, .offset = -1};
    for (int c = 0; aggs[c]; c++)
        p.aggs[p.n_aggs++] = aggs[c] == 'c'   ? PGR_AGG_COUNT
                             : aggs[c] == 's' ? PGR_AGG_SUM
                             : aggs[c] == 'm' ? PGR_AGG_MIN
                             : aggs[c] == 'M' ? PGR_AGG_MAX
                                              : PGR_AGG_NONE;
    return p;
}

static const char *
run(const pgr_merge_plan_t *plan, int n, bool nodecol, size_t memory,
    const char *const *const *streams)
{
    pgr_writer_t out;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    CHECK_INT(pgr_merge_new(plan, n, ms_nodes, PGR_MERGE_WARN, nodecol, &m), 0);
    if (memory)
        pgr_merge_set_memory(m, memory);
    CHECK_INT(ms_drive(m, n, streams, &out), 0);
    CHECK(pgr_merge_done(m));
    const char *r = ms_render(&out);
    pgr_merge_free(m);
    pgr_writer_free(&out);
    return r;
}

#define ROWS "T k:25|n:20|s:1700|lo:23|hi:25"

TEST(groups_of_three_nodes)
{
    pgr_merge_plan_t p = plan_group("ncsmM");
    p.n_keys = 1;
    p.keys[0] = (pgr_sort_key_t){.column = 0, .nulls_first = false};
    const char *const *const ss[] = {
        S(ROWS, "D a|2|1.5|3|x", "D b|1|10|7|y", "D \\N|4|\\N|1|z", "C SELECT 3", "Z I"),
        S(ROWS, "D b|5|0.25|-2|q", "D c|1|3|0|c", "C SELECT 2", "Z I"),
        S(ROWS, "D \\N|1|2.000|\\N|\\N", "D a|3|-1.5|4|w", "C SELECT 2", "Z I"),
    };
    /* a: 2+3, 1.5-1.5 = 0.0, min 3, max "x"; NULL key: one group, last (NULLS LAST) */
    CHECK_STR(run(&p, 3, false, 0, ss),
              ROWS "\nD a|5|0.0|3|x\nD b|6|10.25|-2|y\nD c|1|3|0|c\nD \\N|5|2.000|1|z\n"
                   "C SELECT 4\nZ I");
    /* the node column names the nodes each group came from */
    const char *r = run(&p, 3, true, 0, ss);
    CHECK(r && strstr(r, "D pg1,pg3|a|5|0.0|3|x\nD pg1,pg2|b|") != NULL);
}

TEST(empty_node_and_no_rows)
{
    pgr_merge_plan_t p = plan_group("nc");
    const char *const *const ss[] = {
        S("T k:23|n:20", "D 1|2", "C SELECT 1", "Z I"),
        S("T k:23|n:20", "C SELECT 0", "Z I"),
        S("T k:23|n:20", "D 1|3", "D 2|1", "C SELECT 2", "Z I"),
    };
    CHECK_STR(run(&p, 3, false, 0, ss), "T k:23|n:20\nD 1|5\nD 2|1\nC SELECT 2\nZ I");
    const char *const *const none[] = {
        S("T k:23|n:20", "C SELECT 0", "Z I"),
        S("T k:23|n:20", "C SELECT 0", "Z I"),
    };
    CHECK_STR(run(&p, 2, false, 0, none), "T k:23|n:20\nC SELECT 0\nZ I");
}

/* Keys equal as values are one group whatever their bytes: numeric 1.0 = 1.00, float -0 = 0,
 * char(n) without trailing spaces; text is bytewise ("a" and "A" stay apart). */
TEST(equal_keys)
{
    pgr_merge_plan_t p = plan_group("nnnnc");
    const char *const *const ss[] = {
        S("T d:1700|f:701|b:1042|t:25|n:20", "D 1.0|-0|ab |A|1", "C SELECT 1", "Z I"),
        S("T d:1700|f:701|b:1042|t:25|n:20", "D 1.00|0|ab|A|2", "D 1.00|0|ab|a|4",
          "C SELECT 2", "Z I"),
    };
    CHECK_STR(run(&p, 2, false, 0, ss),
              "T d:1700|f:701|b:1042|t:25|n:20\nD 1.0|-0|ab |A|3\nD 1.00|0|ab|a|4\n"
              "C SELECT 2\nZ I");
}

TEST(order_limit_offset)
{
    pgr_merge_plan_t p = plan_group("nc");
    p.n_keys = 2;
    p.keys[0] = (pgr_sort_key_t){.column = 1, .desc = true, .nulls_first = true};
    p.keys[1] = (pgr_sort_key_t){.column = 0};
    p.limit = 2;
    p.offset = 1;
    const char *const *const ss[] = {
        S("T k:25|n:20", "D a|1", "D b|5", "D c|2", "C SELECT 3", "Z I"),
        S("T k:25|n:20", "D a|3", "D d|4", "D e|1", "C SELECT 3", "Z I"),
    };
    /* a 4, b 5, c 2, d 4, e 1: by count desc then key: b a d c e; offset 1, limit 2 */
    CHECK_STR(run(&p, 2, false, 0, ss), "T k:25|n:20\nD a|4\nD d|4\nC SELECT 2\nZ I");
    p.limit = 0;
    CHECK_STR(run(&p, 2, false, 0, ss), "T k:25|n:20\nC SELECT 0\nZ I");
}

/* What cannot be combined exactly is concatenated with one NOTICE, as the plain aggregates. */
TEST(fallbacks)
{
    pgr_merge_plan_t p = plan_group("ns");
    const char *const *const flt[] = {
        S("T k:23|s:701", "D 1|0.1", "C SELECT 1", "Z I"),
        S("T k:23|s:701", "D 1|0.2", "C SELECT 1", "Z I"),
    };
    const char *r = run(&p, 2, false, 0, flt);
    CHECK(r && strstr(r, "not merged (sum column 2 has type OID 701") != NULL);
    CHECK(r && strstr(r, "D 1|0.1\nD 1|0.2\nC SELECT 2") != NULL);
    const char *const *const ovf[] = {
        S("T k:23|s:20", "D 1|9223372036854775807", "C SELECT 1", "Z I"),
        S("T k:23|s:20", "D 1|1", "D 2|1", "C SELECT 2", "Z I"),
    };
    r = run(&p, 2, false, 0, ovf);
    CHECK(r && strstr(r, "the sum of column 2 overflows int8") != NULL);
    CHECK(r && strstr(r, "C SELECT 3") != NULL);
    pgr_merge_plan_t q = plan_group("nc");
    const char *const *const other[] = {
        S("T k:1186|n:20", "D 1 day|1", "C SELECT 1", "Z I"),
        S("T k:1186|n:20", "D 24:00:00|1", "C SELECT 1", "Z I"),
    };
    r = run(&q, 2, false, 0, other);
    CHECK(r && strstr(r, "GROUP BY column 1 has type OID 1186, whose equality is unknown") !=
                   NULL);
}

/* Past the memory limit: one ERROR 54000 after every node's ReadyForQuery, no rows; the next
 * batch on a new engine is merged as usual. */
TEST(memory_limit)
{
    pgr_merge_plan_t p = plan_group("nc");
    const char *const *const ss[] = {
        S("T k:23|n:20", "D 1|1", "D 2|1", "D 3|1", "C SELECT 3", "Z T"),
        S("T k:23|n:20", "D 4|1", "D 5|1", "D 6|1", "C SELECT 3", "Z T"),
    };
    const char *r = run(&p, 2, false, 200, ss);
    CHECK_STR(r, "T k:23|n:20\nE 54000 pgrouter: the broadcast GROUP BY merge needs more than "
                 "broadcast.merge_memory (200 bytes) to hold the nodes' groups\nZ T");
    CHECK_STR(run(&p, 2, false, 4096, ss),
              "T k:23|n:20\nD 1|1\nD 2|1\nD 3|1\nD 4|1\nD 5|1\nD 6|1\nC SELECT 6\nZ T");
}

/* A failed node's groups are left out; its WARNING comes first. */
TEST(failed_node)
{
    pgr_merge_plan_t p = plan_group("nc");
    const char *const *const ss[] = {
        S("T k:23|n:20", "D 1|1", "C SELECT 1", "Z I"),
        S("T k:23|n:20", "D 1|7", "E 57014 canceled", "Z I"),
    };
    const char *r = run(&p, 2, false, 0, ss);
    CHECK(r && strstr(r, "N WARNING 01000 node pg2") != NULL);
    CHECK(r && strstr(r, "D 1|1\nC SELECT 1\nZ I") != NULL);
}

int
main(void)
{
    return RUN(groups_of_three_nodes, empty_node_and_no_rows, equal_keys, order_limit_offset,
               fallbacks, memory_limit, failed_node);
}
