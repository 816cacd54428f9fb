/* Ordered merges whose sort keys are resolved when the RowDescription arrives: a key by
 * output-column name (SELECT * ... ORDER BY id), the plan's validation of such keys, and text
 * keys in the collation the nodes reported (en_US.UTF-8 must be generated on this machine:
 * scripts/bootstrap.sh). */
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

/* As run_plan, after telling node i its database collation colls[i] ("name:provider", or
 * NULL: not known). */
static const char *
run_coll(const pgr_merge_plan_t *plan, int n, const char *const *colls,
         const char *const *const *streams)
{
    pgr_writer_t out;
    pgr_merge_t *m = NULL;
    pgr_writer_init_grow(&out);
    CHECK_INT(pgr_merge_new(plan, n, ms_nodes, PGR_MERGE_WARN, false, &m), 0);
    if (m == NULL)
        return "(no engine)";
    for (int i = 0; i < n; i++) {
        char name[64] = "";
        const char *colon = colls[i] ? strchr(colls[i], ':') : NULL;
        if (colon)
            snprintf(name, sizeof(name), "%.*s", (int)(colon - colls[i]), colls[i]);
        CHECK_INT(pgr_merge_node_collation(m, i, colon ? name : NULL, colon ? colon[1] : 0), 0);
    }
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

#define EN "en_US.UTF-8:c"
#define OUT_OF_ORDER "N WARNING 01000 pgrouter: the merged result may not follow its ORDER BY"

TEST(text_in_the_database_collation)
{
    pgr_merge_plan_t p = {.n_keys = 1, .limit = -1, .offset = -1};
    /* Each node sorted in en_US (a < A < b < B < é < f); bytewise B would come first. */
    const char *const *const ss[] = {
        S("T s:25", "D a", "D B", "D \xc3\xa9", "C SELECT 3", "Z I"),
        S("T s:25", "D A", "D b", "D f", "C SELECT 3", "Z I"),
    };
    /* (the renderer shows non-ASCII values in hex) */
    const char *want = "T s:25\nD a\nD A\nD b\nD B\nD 0xc3a9\nD f\nC SELECT 6\nZ I";
    CHECK_STR(run_coll(&p, 2, (const char *[]){EN, EN}, ss), want);
    /* varchar, and char(n) (trailing spaces ignored), the same */
    const char *const *const sv[] = {
        S("T s:1043", "D a", "D B", "D \xc3\xa9", "C SELECT 3", "Z I"),
        S("T s:1043", "D A", "D b", "D f", "C SELECT 3", "Z I"),
    };
    const char *r = run_coll(&p, 2, (const char *[]){"en_US.utf8:c", "en_US.utf8:c"}, sv);
    CHECK(r && strstr(r, "D a\nD A\nD b\nD B\n") && !strstr(r, OUT_OF_ORDER));
    const char *const *const sb[] = {
        S("T s:1042", "D a  ", "D B  ", "C SELECT 2", "Z I"),
        S("T s:1042", "D A  ", "D b  ", "C SELECT 2", "Z I"),
    };
    r = run_coll(&p, 2, (const char *[]){EN, EN}, sb);
    CHECK(r && strstr(r, "D a  \nD A  \nD b  \nD B  \n") && !strstr(r, OUT_OF_ORDER));
    /* DESC reverses the collation's order. */
    p.keys[0].desc = p.keys[0].nulls_first = true;
    const char *const *const sd[] = {
        S("T s:25", "D f", "D B", "D a", "C SELECT 3", "Z I"),
        S("T s:25", "D \xc3\xa9", "D b", "D A", "C SELECT 3", "Z I"),
    };
    CHECK_STR(run_coll(&p, 2, (const char *[]){EN, EN}, sd),
              "T s:25\nD f\nD 0xc3a9\nD B\nD b\nD A\nD a\nC SELECT 6\nZ I");
}

TEST(text_collation_unknown_or_overridden)
{
    pgr_merge_plan_t p = {.n_keys = 1, .limit = -1, .offset = -1};
    const char *const *const ss[] = {
        S("T s:25", "D a", "D B", "C SELECT 2", "Z I"),
        S("T s:25", "D A", "D b", "C SELECT 2", "Z I"),
    };
    /* Not told, told differently, or ICU: bytewise, and the nodes' order shows it. */
    const char *const *const cases[] = {
        (const char *[]){NULL, NULL}, (const char *[]){EN, NULL},
        (const char *[]){EN, "C:c"}, (const char *[]){"en-US-x-icu:i", "en-US-x-icu:i"},
    };
    for (size_t k = 0; k < PGR_ARRAY_LEN(cases); k++) {
        const char *r = run_coll(&p, 2, cases[k], ss);
        CHECK(r && strstr(r, OUT_OF_ORDER ": node pg1 sent a row that sorts before one already "
                             "merged (is its collation C?)"));
    }
    /* A node that failed before its rows does not count against the others' agreement. */
    const char *const *const sf[] = {
        S("T s:25", "D a", "D B", "C SELECT 2", "Z I"),
        S("T s:25", "D A", "D b", "C SELECT 2", "Z I"),
        S("E 42P01 relation \"t\" does not exist", "Z I"),
    };
    const char *r = run_coll(&p, 3, (const char *[]){EN, EN, NULL}, sf);
    CHECK(r && strstr(r, "D a\nD A\nD b\nD B\n") && !strstr(r, OUT_OF_ORDER));
    /* ORDER BY s COLLATE "C" on an en_US database: bytewise, no warning. */
    const char *const *const sc[] = {
        S("T s:25", "D B", "D a", "C SELECT 2", "Z I"),
        S("T s:25", "D A", "D b", "C SELECT 2", "Z I"),
    };
    snprintf(p.keys[0].collation, sizeof(p.keys[0].collation), "C");
    CHECK_STR(run_coll(&p, 2, (const char *[]){EN, EN}, sc),
              "T s:25\nD A\nD B\nD a\nD b\nC SELECT 4\nZ I");
    /* ... and COLLATE "en_US" on a C database: en_US; "default" is the database's. */
    snprintf(p.keys[0].collation, sizeof(p.keys[0].collation), "en_US");
    r = run_coll(&p, 2, (const char *[]){"C:c", "C:c"}, ss);
    CHECK(r && strstr(r, "D a\nD A\nD b\nD B\n") && !strstr(r, OUT_OF_ORDER));
    snprintf(p.keys[0].collation, sizeof(p.keys[0].collation), "default");
    r = run_coll(&p, 2, (const char *[]){EN, EN}, ss);
    CHECK(r && strstr(r, "D a\nD A\nD b\nD B\n") && !strstr(r, OUT_OF_ORDER));
    /* A collation this machine lacks: bytewise, and the warning names it. */
    snprintf(p.keys[0].collation, sizeof(p.keys[0].collation), "myschema.mine");
    r = run_coll(&p, 2, (const char *[]){EN, EN}, ss);
    CHECK(r && strstr(r, OUT_OF_ORDER));
    /* name columns sort in "C" whatever the database's collation */
    p.keys[0].collation[0] = '\0';
    const char *const *const sn[] = {
        S("T s:19", "D B", "D a", "C SELECT 2", "Z I"),
        S("T s:19", "D A", "D b", "C SELECT 2", "Z I"),
    };
    CHECK_STR(run_coll(&p, 2, (const char *[]){EN, EN}, sn),
              "T s:19\nD A\nD B\nD a\nD b\nC SELECT 4\nZ I");
    /* A libc order the nodes do not follow: the warning names the collation used. */
    const char *const *const sx[] = {
        S("T s:25", "D B", "D a", "C SELECT 2", "Z I"),
        S("T s:25", "D A", "D b", "C SELECT 2", "Z I"),
    };
    r = run_coll(&p, 2, (const char *[]){EN, EN}, sx);
    CHECK(r && strstr(r, "(is its collation en_US.UTF-8?)"));
}

TEST(min_max_text_in_the_database_collation)
{
    pgr_merge_plan_t p = {.aggregate = true, .n_aggs = 2, .limit = -1, .offset = -1,
                          .aggs = {PGR_AGG_MIN, PGR_AGG_MAX}};
    const char *const *const ss[] = {
        S("T min:25|max:25", "D B|b", "C SELECT 1", "Z I"),
        S("T min:25|max:25", "D a|A", "C SELECT 1", "Z I"),
    };
    CHECK_STR(run_coll(&p, 2, (const char *[]){EN, EN}, ss),
              "T min:25|max:25\nD a|b\nC SELECT 1\nZ I");
    CHECK_STR(run_coll(&p, 2, (const char *[]){"C:c", "C:c"}, ss),
              "T min:25|max:25\nD B|b\nC SELECT 1\nZ I");
}

int
main(void)
{
    return RUN(key_by_name, key_by_name_with_limit_and_position, key_by_name_not_one_column,
               key_validation, text_in_the_database_collation,
               text_collation_unknown_or_overridden, min_max_text_in_the_database_collation);
}
