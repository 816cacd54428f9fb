/* Ordered merges whose sort keys are resolved when the RowDescription arrives: a key by
 * output-column name (SELECT * ... ORDER BY id) and the plan's validation of such keys. */
#include "../harness.h"
#include "merge_support.h"

#define S(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *
run_plan(const pgr_merge_plan_t *plan, int n, bool nodecol, const char *const *const *streams)
{
    pgr_writer_t out;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    CHECK_INT(pgr_merge_new(plan, n, ms_nodes, PGR_MERGE_WARN, nodecol, &m), 0);
    if (m == NULL)
        return "(no engine)";
    CHECK_INT(ms_drive(m, n, streams, &out), 0);
    CHECK(pgr_merge_done(m));
    const char *r = ms_render(&out);
    pgr_merge_free(m);
    pgr_writer_free(&out);
    return r;
}

static pgr_merge_plan_t
by_name(const char *name, bool desc)
{
    pgr_merge_plan_t p = {.n_keys = 1, .limit = -1, .offset = -1};
    p.keys[0].column = -1;
    p.keys[0].desc = p.keys[0].nulls_first = desc;
    snprintf(p.keys[0].name, sizeof(p.keys[0].name), "%s", name);
    return p;
}

TEST(key_by_name)
{
    pgr_merge_plan_t p = by_name("id", false);
    /* id is the second column: found by name, compared as int4 (10 after 9). */
    const char *const *const ss[] = {
        S("T s:25|id:23", "D x|1", "D y|10", "C SELECT 2", "Z I"),
        S("T s:25|id:23", "D z|2", "D w|9", "C SELECT 2", "Z I"),
    };
    CHECK_STR(run_plan(&p, 2, false, ss),
              "T s:25|id:23\nD x|1\nD z|2\nD w|9\nD y|10\nC SELECT 4\nZ I");
    /* The node column is not a result column of the nodes: same key, same order. */
    const char *r = run_plan(&p, 2, true, ss);
    CHECK_STR(r, "T node:25|s:25|id:23\nD pg1|x|1\nD pg2|z|2\nD pg2|w|9\nD pg1|y|10\n"
                 "C SELECT 4\nZ I");
    /* A result column named "node" is the nodes' own, whether or not the node column is on. */
    pgr_merge_plan_t pn = by_name("node", true);
    const char *const *const sn[] = {
        S("T node:23", "D 1", "D 0", "C SELECT 2", "Z I"),
        S("T node:23", "D 3", "C SELECT 1", "Z I"),
    };
    CHECK_STR(run_plan(&pn, 2, true, sn),
              "T node:25|node:23\nD pg2|3\nD pg1|1\nD pg1|0\nC SELECT 3\nZ I");
    /* Names compare exactly: "ID" is not id. */
    pgr_merge_plan_t pu = by_name("ID", false);
    CHECK_STR(run_plan(&pu, 2, false, ss),
              "T s:25|id:23\nN NOTICE 00000 pgrouter: the broadcast result is not merged (ORDER "
              "BY \"ID\" is not a result column); the nodes' rows are concatenated\nD x|1\n"
              "D z|2\nD y|10\nD w|9\nC SELECT 4\nZ I");
}

TEST(key_by_name_with_limit_and_position)
{
    pgr_merge_plan_t p = by_name("b", true);
    p.n_keys = 2;
    p.keys[1] = (pgr_sort_key_t){.column = 0};
    p.limit = 3;
    p.offset = 1;
    const char *const *const ss[] = {
        S("T a:23|b:23", "D 1|5", "D 2|5", "D 3|1", "C SELECT 3", "Z I"),
        S("T a:23|b:23", "D 0|5", "D 9|4", "C SELECT 2", "Z I"),
        S("T a:23|b:23", "D 4|\\N", "C SELECT 1", "Z I"),
    };
    /* b DESC (NULLS FIRST), then a: NULL|4, 5|0, 5|1, 5|2, 4|9 ...; offset 1, limit 3. */
    CHECK_STR(run_plan(&p, 3, false, ss), "T a:23|b:23\nD 0|5\nD 1|5\nD 2|5\nC SELECT 3\nZ I");
}

TEST(key_by_name_not_one_column)
{
    pgr_merge_plan_t p = by_name("id", false);
    /* SELECT t.*, u.* over two tables that both have id: several fields, no guess. */
    const char *const *const ss[] = {
        S("T id:23|id:23", "D 2|1", "C SELECT 1", "Z I"),
        S("T id:23|id:23", "D 1|2", "C SELECT 1", "Z I"),
    };
    CHECK_STR(run_plan(&p, 2, false, ss),
              "T id:23|id:23\nN NOTICE 00000 pgrouter: the broadcast result is not merged (ORDER "
              "BY \"id\" matches several result columns); the nodes' rows are concatenated\n"
              "D 2|1\nD 1|2\nC SELECT 2\nZ I");
    /* A type the merge cannot order, found by name: the same NOTICE as by position. */
    pgr_merge_plan_t q = by_name("d", false);
    const char *const *const s2[] = {S("T x:23|d:1186", "D 1|1 day", "C SELECT 1", "Z I"),
                                     S("T x:23|d:1186", "D 2|2 days", "C SELECT 1", "Z I")};
    const char *r = run_plan(&q, 2, false, s2);
    CHECK(r && strstr(r, "(ORDER BY column 2 has type OID 1186, whose order is unknown)"));
}

TEST(key_validation)
{
    pgr_merge_t *m = (pgr_merge_t *)1;
    pgr_merge_plan_t p = by_name("", false);
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    CHECK(m == NULL);
    p = by_name("id", false);
    p.keys[0].column = -2;
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    p = by_name("id", false);
    memset(p.keys[0].name, 'x', sizeof(p.keys[0].name)); /* not terminated */
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    p = by_name("id", false);
    memset(p.keys[0].collation, 'c', sizeof(p.keys[0].collation));
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), PGR_EINVAL);
    p = by_name("id", false);
    CHECK_INT(pgr_merge_new(&p, 2, ms_nodes, PGR_MERGE_WARN, false, &m), 0);
    pgr_merge_free(m);
}

int
main(void)
{
    return RUN(key_by_name, key_by_name_with_limit_and_position, key_by_name_not_one_column,
               key_validation);
}
