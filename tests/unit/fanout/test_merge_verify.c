/* Verify mode of the merge engine (merge_verify.c): one row per node with its row count and
 * hash, order-independent without ORDER BY and in order with it, the RowDescription folded in,
 * and the WARNING naming the nodes that differ from the majority. */
#include "../harness.h"
#include "merge_support.h"

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})

static char out_text[1 << 16];

/* Feeds seq to a verify engine on n nodes; the rendered output (done checked). */
static const char *
verify(int n, bool ordered, const char *const *seq)
{
    pgr_merge_plan_t plan = {.limit = -1, .offset = -1, .ordered = ordered, .verify = true};
    pgr_merge_t *m = NULL;
    pgr_writer_t out;

    pgr_writer_init_grow(&out);
    CHECK_INT(pgr_merge_new(&plan, n, ms_nodes, PGR_MERGE_WARN, true, &m), 0);
    CHECK_INT(ms_feed_all(m, seq, &out), -1);
    CHECK(pgr_merge_done(m));
    const char *r = ms_render(&out);
    snprintf(out_text, sizeof(out_text), "%s", r ? r : "(bad output)");
    pgr_merge_free(m);
    pgr_writer_free(&out);
    return out_text;
}

/* The hash column of node's row in rendered output ("D pg2|3|0123456789abcdef"). */
static const char *
hash_of(const char *text, const char *node, char *buf)
{
    char want[16];
    snprintf(want, sizeof(want), "D %s|", node);
    const char *p = strstr(text, want);
    buf[0] = '\0';
    if (p == NULL)
        return buf;
    p = strchr(p + strlen(want), '|');
    if (p && strlen(p + 1) >= 16)
        snprintf(buf, 17, "%s", p + 1);
    return buf;
}

#define ROWDESC "T node:25|rows:20|hash:25"

TEST(equal_in_any_order_without_order_by)
{
    const char *r = verify(3, false,
                           S("0:T a:23|b:25", "1:T a:23|b:25", "2:T a:23|b:25", "0:D 1|x",
                             "1:D 2|y", "2:D 1|x", "0:D 2|y", "1:D 1|x", "2:D 2|y",
                             "0:C SELECT 2", "1:C SELECT 2", "2:C SELECT 2", "0:Z I", "1:Z I",
                             "2:Z I"));
    char h1[20], h2[20], h3[20];
    CHECK(strncmp(r, ROWDESC "\nD pg1|2|", strlen(ROWDESC) + 9) == 0);
    CHECK(strstr(r, "N WARNING") == NULL);
    CHECK(strstr(r, "\nC SELECT 3\nZ I") != NULL);
    CHECK(strlen(hash_of(r, "pg1", h1)) == 16);
    CHECK_STR(hash_of(r, "pg2", h2), h1);
    CHECK_STR(hash_of(r, "pg3", h3), h1);
}

TEST(order_matters_with_order_by)
{
    const char *r = verify(3, true,
                           S("0:T a:23", "1:T a:23", "2:T a:23", "0:D 1", "1:D 2", "2:D 1",
                             "0:D 2", "1:D 1", "2:D 2", "0:C SELECT 2", "1:C SELECT 2",
                             "2:C SELECT 2", "0:Z I", "1:Z I", "2:Z I"));
    char h1[20], h2[20], h3[20];
    CHECK(strstr(r, "N WARNING 01000 pgrouter: verify: node pg2 differs from the majority "
                    "(pg1, pg3)|The rows were compared in order (the statement has ORDER BY).") !=
          NULL);
    CHECK_STR(hash_of(r, "pg3", h3), hash_of(r, "pg1", h1));
    CHECK(strcmp(hash_of(r, "pg2", h2), h1) != 0);
    CHECK(strstr(r, "D pg2|2|") != NULL);
}

TEST(duplicates_and_nulls_count)
{
    /* {1,1,2,2} and {1,1,1,1}: an XOR of row hashes would call them equal. */
    const char *r = verify(2, false,
                           S("0:T a:23", "1:T a:23", "0:D 1", "0:D 1", "0:D 2", "0:D 2",
                             "1:D 1", "1:D 1", "1:D 1", "1:D 1", "0:C SELECT 4",
                             "1:C SELECT 4", "0:Z I", "1:Z I"));
    char h1[20], h2[20];
    CHECK(strcmp(hash_of(r, "pg1", h1), hash_of(r, "pg2", h2)) != 0);
    /* Two nodes, two results: no majority. */
    CHECK(strstr(r, "pgrouter: verify: the nodes disagree and no result has a majority: "
                    "pg1 | pg2|The rows were compared as a multiset (no ORDER BY).") != NULL);
    /* NULL and the empty string are different values. */
    r = verify(2, false, S("0:T a:25", "1:T a:25", "0:D \\N", "1:D ", "0:C SELECT 1",
                           "1:C SELECT 1", "0:Z I", "1:Z I"));
    CHECK(strcmp(hash_of(r, "pg1", h1), hash_of(r, "pg2", h2)) != 0);
}

TEST(schema_drift_is_a_different_hash)
{
    /* The same text values under int4 and int8: not failed (42804) as in a merge. */
    const char *r = verify(3, false,
                           S("0:T a:23", "1:T a:23", "2:T a:20", "0:D 1", "1:D 1", "2:D 1",
                             "0:C SELECT 1", "1:C SELECT 1", "2:C SELECT 1", "0:Z I", "1:Z I",
                             "2:Z I"));
    CHECK(strstr(r, "node pg3 differs from the majority (pg1, pg2)") != NULL);
    CHECK(strstr(r, "D pg3|1|") != NULL);
    CHECK(strstr(r, "42804") == NULL);
    /* Rows of another width too. */
    r = verify(3, false, S("0:D 1", "1:D 1|2", "2:D 1", "0:C SELECT 1", "1:C SELECT 1",
                           "2:C SELECT 1", "0:Z I", "1:Z I", "2:Z I"));
    CHECK(strstr(r, "node pg2 differs from the majority (pg1, pg3)") != NULL);
    CHECK(strstr(r, "C SELECT 3") != NULL);
}

TEST(failed_node_and_other_statements)
{
    /* A SET's tag passes; the failed node gets its warning and no row. */
    const char *r = verify(3, false,
                           S("0:C SET", "1:C SET", "2:C SET", "0:T a:23", "1:T a:23",
                             "2:E 42P01 relation \"t\" does not exist", "0:D 7", "1:D 7",
                             "0:C SELECT 1", "1:C SELECT 1", "0:Z I", "1:Z I", "2:Z I"));
    const char *head = "C SET\n" ROWDESC "\n"
                       "N WARNING 01000 node pg3 (127.0.0.1:5434) failed: 42P01 relation \"t\" "
                       "does not exist\nD pg1|1|";
    char h1[20], h2[20];
    CHECK(strncmp(r, head, strlen(head)) == 0);
    CHECK_STR(hash_of(r, "pg2", h2), hash_of(r, "pg1", h1));
    CHECK(strstr(r, "D pg3") == NULL);
    CHECK(strstr(r, "differs") == NULL);
    CHECK(strlen(r) > 15 && strcmp(r + strlen(r) - 15, "\nC SELECT 2\nZ I") == 0);
}

int
main(void)
{
    return RUN(equal_in_any_order_without_order_by, order_matters_with_order_by,
               duplicates_and_nulls_count, schema_drift_is_a_different_hash,
               failed_node_and_other_statements);
}
