/* The broadcast merge plan from the parse tree: ORDER BY by position, name, alias and
 * expression; directions and NULLS placement; LIMIT/OFFSET/FETCH and the rewritten statement;
 * aggregates; and every shape that can only be concatenated, with its reason. */
#include <stdlib.h>

#include "route/classify.h"
#include "../harness.h"

/* keys: "<column><a|d><f|l>[/collation]" per key, space-separated ("0al 2df/C"), the column
 * "[name]" for a key by output-column name; aggs: one letter per
 * column (n none, c count, s sum, m min, M max), prefixed "g:" for a GROUP BY plan (n: a
 * grouping column), or NULL when neither; why: the
 * unsupported reason or NULL; rewritten: the node statement or NULL. */
typedef struct {
    const char *sql;
    const char *why;
    const char *keys;
    int64_t limit, offset;
    const char *aggs;
    const char *rewritten;
} plan_case_t;

static const plan_case_t cases[] = {
    /* plain concatenation */
    {"SELECT a, b FROM t", NULL, "", -1, -1, NULL, NULL},
    {"SELECT * FROM t WHERE x > 1", NULL, "", -1, -1, NULL, NULL},
    {"INSERT INTO t VALUES (1) RETURNING id", NULL, "", -1, -1, NULL, NULL},
    {"UPDATE t SET a = 1 RETURNING *", NULL, "", -1, -1, NULL, NULL},
    {"", NULL, "", -1, -1, NULL, NULL},
    /* ORDER BY by position, name, alias, expression */
    {"SELECT a, b FROM t ORDER BY 2", NULL, "1al", -1, -1, NULL, NULL},
    {"SELECT a, b FROM t ORDER BY b DESC, a", NULL, "1df 0al", -1, -1, NULL, NULL},
    {"SELECT t.a, b FROM t ORDER BY a", NULL, "0al", -1, -1, NULL, NULL},
    {"SELECT a, b * 2 AS total FROM t ORDER BY total", NULL, "1al", -1, -1, NULL, NULL},
    {"SELECT a AS x, b AS y FROM t ORDER BY y DESC NULLS LAST, x NULLS FIRST", NULL,
     "1dl 0af", -1, -1, NULL, NULL},
    {"SELECT a, lower(b) FROM t ORDER BY lower( b ) ASC", NULL, "1al", -1, -1, NULL, NULL},
    {"SELECT a + 1, b FROM t ORDER BY a+1 DESC", NULL, "0df", -1, -1, NULL, NULL},
    {"SELECT b AS a, a AS b FROM t ORDER BY a", NULL, "0al", -1, -1, NULL, NULL},
    {"SELECT x AS y FROM t ORDER BY x", NULL, "0al", -1, -1, NULL, NULL},
    {"SELECT count, lower(n) FROM t ORDER BY lower", NULL, "1al", -1, -1, NULL, NULL},
    {"SELECT a::text, b FROM t ORDER BY 1 DESC, 2 ASC NULLS FIRST", NULL, "0df 1af", -1, -1,
     NULL, NULL},
    {"SELECT a, (SELECT max(b) AS m FROM u) FROM t ORDER BY m", NULL, "1al", -1, -1, NULL,
     NULL},
    {"SELECT a::int, coalesce(b, 0) FROM t ORDER BY coalesce DESC", NULL, "1df", -1, -1, NULL,
     NULL},
    {"SELECT '1'::int, a FROM t ORDER BY int4, a", NULL, "0al 1al", -1, -1, NULL, NULL},
    {"SELECT CASE WHEN a THEN 1 END, b FROM t ORDER BY \"case\" DESC NULLS LAST", NULL, "0dl",
     -1, -1, NULL, NULL},
    {"SELECT (a), b FROM t ORDER BY b, (a)", NULL, "1al 0al", -1, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY \"A\"", "ORDER BY an expression not in the select list", "",
     -1, -1, NULL, NULL},
    {"SELECT *, a FROM t ORDER BY 2", NULL, "1al", -1, -1, NULL, NULL},
    /* ORDER BY a column of a star: by output-column name, resolved by the merge */
    {"SELECT * FROM t ORDER BY id", NULL, "[id]al", -1, -1, NULL, NULL},
    {"SELECT * FROM t ORDER BY a DESC, \"B c\" NULLS FIRST LIMIT 3", NULL, "[a]df [B c]af",
     3, -1, NULL, NULL},
    {"SELECT t.*, b AS x FROM t ORDER BY x", NULL, "[x]al", -1, -1, NULL, NULL},
    {"SELECT t.*, x FROM t, u ORDER BY id", NULL, "[id]al", -1, -1, NULL, NULL},
    {"SELECT * FROM t ORDER BY t.id DESC", NULL, "[id]df", -1, -1, NULL, NULL},
    {"SELECT * FROM t JOIN u ON t.k = u.k ORDER BY u.v", NULL, "[v]al", -1, -1, NULL, NULL},
    {"SELECT t.*, u.v FROM t JOIN u USING (k) ORDER BY t.id", NULL, "[id]al", -1, -1, NULL,
     NULL},
    {"SELECT * FROM t JOIN u USING (k) ORDER BY k", NULL, "[k]al", -1, -1, NULL, NULL},
    {"SELECT *, 2 AS two FROM t ORDER BY two, 1", NULL, "[two]al 0al", -1, -1, NULL, NULL},
    {"SELECT * FROM t ORDER BY id OFFSET 2", NULL, "[id]al", -1, 2, NULL,
     "SELECT * FROM t ORDER BY id"},
    /* COLLATE */
    {"SELECT a, b FROM t ORDER BY b COLLATE \"C\"", NULL, "1al/C", -1, -1, NULL, NULL},
    {"SELECT a, b FROM t ORDER BY b COLLATE pg_catalog.\"en_US\" DESC", NULL, "1df/en_US",
     -1, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY a COLLATE s.\"x\"", NULL, "0al/s.x", -1, -1, NULL, NULL},
    {"SELECT a AS b, b AS a FROM t ORDER BY a COLLATE \"C\"", NULL, "0al/C", -1, -1, NULL,
     NULL},
    {"SELECT a AS b, b AS a FROM t ORDER BY a", NULL, "1al", -1, -1, NULL, NULL},
    {"SELECT a COLLATE \"POSIX\" AS x FROM t ORDER BY x", NULL, "0al/POSIX", -1, -1, NULL,
     NULL},
    {"SELECT a COLLATE \"POSIX\" AS x FROM t ORDER BY a COLLATE \"C\"", NULL, "0al/C", -1,
     -1, NULL, NULL},
    {"SELECT a COLLATE \"POSIX\" AS x FROM t ORDER BY a", NULL, "0al", -1, -1, NULL, NULL},
    {"SELECT a COLLATE \"POSIX\" AS x FROM t ORDER BY x COLLATE \"C\"",
     "ORDER BY an expression not in the select list", "", -1, -1, NULL, NULL},
    {"SELECT a COLLATE \"POSIX\" FROM t ORDER BY 1", NULL, "0al/POSIX", -1, -1, NULL, NULL},
    {"SELECT * FROM t ORDER BY name COLLATE \"C\"", NULL, "[name]al/C", -1, -1, NULL, NULL},
    {"SELECT t.* FROM t, u ORDER BY t.name COLLATE \"en_US\"", NULL, "[name]al/en_US", -1, -1,
     NULL, NULL},
    {"SELECT *, n COLLATE \"C\" AS k FROM t ORDER BY k", NULL, "[k]al/C", -1, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY 1 COLLATE \"C\"", "ORDER BY an expression not in the select list",
     "", -1, -1, NULL, NULL},
    {"SELECT t.a FROM t ORDER BY a COLLATE \"C\"",
     "ORDER BY an expression not in the select list", "", -1, -1, NULL, NULL},
    {"SELECT min(a COLLATE \"C\") FROM t", "COLLATE inside an aggregate", "", -1, -1, NULL,
     NULL},
    {"SELECT * FROM t ORDER BY 1 DESC", NULL, "0df", -1, -1, NULL, NULL},
    {"VALUES (1, 2), (3, 4) ORDER BY 2 DESC", NULL, "1df", -1, -1, NULL, NULL},
    {"WITH c AS (SELECT a FROM t GROUP BY a) SELECT a FROM c ORDER BY a DESC", NULL, "0df",
     -1, -1, NULL, NULL},
    {"/* pgrouter: broadcast */ SELECT a, b FROM t ORDER BY b", NULL, "1al", -1, -1, NULL, NULL},
    /* LIMIT / OFFSET / FETCH */
    {"SELECT a FROM t ORDER BY a LIMIT 10", NULL, "0al", 10, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY a LIMIT 10 OFFSET 5", NULL, "0al", 10, 5, NULL,
     "SELECT a FROM t ORDER BY a LIMIT 15"},
    {"SELECT a FROM t ORDER BY a OFFSET 5 LIMIT '10'", NULL, "0al", 10, 5, NULL,
     "SELECT a FROM t ORDER BY a LIMIT 15"},
    {"SELECT a FROM t ORDER BY a OFFSET 3", NULL, "0al", -1, 3, NULL,
     "SELECT a FROM t ORDER BY a"},
    {"SELECT a FROM t ORDER BY a LIMIT ALL OFFSET 3", NULL, "0al", -1, 3, NULL,
     "SELECT a FROM t ORDER BY a LIMIT ALL"},
    {"SELECT a FROM t ORDER BY a DESC OFFSET 2 ROWS FETCH FIRST 3 ROWS ONLY", NULL, "0df",
     3, 2, NULL, "SELECT a FROM t ORDER BY a DESC LIMIT 5"},
    {"SELECT a FROM t FETCH NEXT 4 ROWS ONLY", NULL, "", 4, -1, NULL, NULL},
    {"SELECT a FROM t LIMIT 2147483647 OFFSET 10", NULL, "", 2147483647, 10, NULL,
     "SELECT a FROM t LIMIT 2147483657"},
    {"-- note\nSELECT a FROM t /* x */ ORDER BY a LIMIT 1 OFFSET 1", NULL, "0al", 1, 1, NULL,
     "SELECT a FROM t ORDER BY a LIMIT 2"},
    {"SELECT a FROM t ORDER BY a FETCH FIRST 3 ROWS WITH TIES", "FETCH FIRST ... WITH TIES",
     "", -1, -1, NULL, NULL},
    {"SELECT a FROM t LIMIT $1", "LIMIT or OFFSET that is not an integer constant", "", -1,
     -1, NULL, NULL},
    {"SELECT a FROM t LIMIT 1 + 1", "LIMIT or OFFSET that is not an integer constant", "",
     -1, -1, NULL, NULL},
    /* aggregates */
    {"SELECT count(*), sum(x), min(y), max(z), count(w) FROM t", NULL, "", -1, -1, "csmMc",
     NULL},
    {"SELECT 'v1', count(*), 42 FROM t", NULL, "", -1, -1, "ncn", NULL},
    {"SELECT pg_catalog.sum(x) AS s FROM t WHERE y > 0", NULL, "", -1, -1, "s", NULL},
    {"SELECT 1 FROM t ORDER BY count(*)", NULL, "", -1, -1, "n", NULL},
    {"SELECT count(*) FROM t LIMIT 1 OFFSET 0", NULL, "", 1, 0, "c",
     "SELECT count(*) FROM t LIMIT 1"},
    {"SELECT count(*), (SELECT max(a) FROM u) FROM t",
     "a column that is not a plain aggregate", "", -1, -1, NULL, NULL},
    {"SELECT avg(x) FROM t", "avg cannot be merged from per-node results", "", -1, -1, NULL,
     NULL},
    {"SELECT sum(x) + 1 FROM t", "a column that is not a plain aggregate", "", -1, -1, NULL,
     NULL},
    {"SELECT count(DISTINCT x) FROM t",
     "count(DISTINCT ...) cannot be merged from per-node results", "", -1, -1, NULL, NULL},
    {"SELECT sum(DISTINCT x) FROM t", "DISTINCT inside an aggregate", "", -1, -1, NULL, NULL},
    {"SELECT bool_and(x) FROM t", "bool_and cannot be merged from per-node results", "", -1,
     -1, NULL, NULL},
    {"SELECT count(*) FILTER (WHERE x > 1) FROM t", "aggregate with FILTER", "", -1, -1, NULL,
     NULL},
    {"SELECT string_agg(a, ',' ORDER BY a) FROM t", "ORDER BY inside an aggregate", "", -1,
     -1, NULL, NULL},
    {"SELECT array_agg(a) FROM t",
     "an aggregate that cannot be merged from per-node results", "", -1, -1, NULL, NULL},
    {"SELECT myschema.sum(a) FROM t",
     "an aggregate that cannot be merged from per-node results", "", -1, -1, NULL, NULL},
    {"SELECT (SELECT count(*) FROM u) FROM t ORDER BY 1", NULL, "0al", -1, -1, NULL, NULL},
    /* GROUP BY: keys by position, name, alias and expression; ORDER BY and LIMIT/OFFSET of
     * the merged groups, the nodes asked for every group */
    {"SELECT g, count(*) FROM t GROUP BY g", NULL, "", -1, -1, "g:nc", NULL},
    {"SELECT g, h, sum(x), min(y), max(z), count(w) FROM t GROUP BY 1, 2", NULL, "", -1, -1,
     "g:nnsmMc", NULL},
    {"SELECT count(*), t.g FROM t GROUP BY g", NULL, "", -1, -1, "g:cn", NULL},
    {"SELECT lower(s) AS k, count(*) FROM t GROUP BY k", NULL, "", -1, -1, "g:nc", NULL},
    {"SELECT lower(s), count(*) FROM t GROUP BY lower( s )", NULL, "", -1, -1, "g:nc", NULL},
    {"SELECT g, 'v1', g, count(*) FROM t GROUP BY g", NULL, "", -1, -1, "g:nnnc", NULL},
    {"SELECT g, count(*) AS n FROM t GROUP BY g ORDER BY n DESC, 1 LIMIT 5", NULL, "1df 0al",
     5, -1, "g:nc", "SELECT g, count(*) AS n FROM t GROUP BY g ORDER BY n DESC, 1"},
    {"SELECT g, sum(x) FROM t GROUP BY g ORDER BY sum(x) LIMIT 2 OFFSET 3", NULL, "1al", 2, 3,
     "g:ns", "SELECT g, sum(x) FROM t GROUP BY g ORDER BY sum(x)"},
    {"SELECT g, count(*) FROM t GROUP BY g OFFSET 1", NULL, "", -1, 1, "g:nc",
     "SELECT g, count(*) FROM t GROUP BY g"},
    {"SELECT g, count(*) FROM t GROUP BY g FETCH FIRST 4 ROWS ONLY", NULL, "", 4, -1, "g:nc",
     "SELECT g, count(*) FROM t GROUP BY g"},
    /* SELECT DISTINCT: the group merge with every column a key; ORDER BY and LIMIT/OFFSET of
     * the merged rows, no LIMIT on the nodes */
    {"SELECT DISTINCT g FROM t", NULL, "", -1, -1, "g:n", NULL},
    {"SELECT DISTINCT g, lower(s) AS l, 1 FROM t", NULL, "", -1, -1, "g:nnn", NULL},
    {"SELECT DISTINCT g, h FROM t ORDER BY h DESC, g LIMIT 3 OFFSET 1", NULL, "1df 0al", 3, 1,
     "g:nn", "SELECT DISTINCT g, h FROM t ORDER BY h DESC, g"},
    /* DISTINCT refused, each with its reason */
    {"SELECT DISTINCT ON (g) g, h FROM t ORDER BY g", "DISTINCT ON", "", -1, -1, NULL, NULL},
    {"SELECT DISTINCT count(*) FROM t", "DISTINCT with GROUP BY or aggregates", "", -1, -1, NULL,
     NULL},
    {"SELECT DISTINCT g FROM t GROUP BY g", "DISTINCT with GROUP BY or aggregates", "", -1, -1,
     NULL, NULL},
    {"SELECT DISTINCT * FROM t", "SELECT DISTINCT *", "", -1, -1, NULL, NULL},
    /* GROUP BY refused, each with its reason */
    {"SELECT g, avg(x) FROM t GROUP BY g", "avg cannot be merged from per-node results", "",
     -1, -1, NULL, NULL},
    {"SELECT g, count(DISTINCT x) FROM t GROUP BY g",
     "count(DISTINCT ...) cannot be merged from per-node results", "", -1, -1, NULL, NULL},
    {"SELECT g, bool_or(b) FROM t GROUP BY g", "bool_or cannot be merged from per-node results",
     "", -1, -1, NULL, NULL},
    {"SELECT g, every(b) FROM t GROUP BY g", "every cannot be merged from per-node results",
     "", -1, -1, NULL, NULL},
    {"SELECT count(*) FROM t GROUP BY g", "GROUP BY a key not in the select list", "", -1, -1,
     NULL, NULL},
    {"SELECT g + 1, count(*) FROM t GROUP BY g", "GROUP BY a key not in the select list", "",
     -1, -1, NULL, NULL},
    {"SELECT g, h, count(*) FROM t GROUP BY g",
     "a column that is neither a GROUP BY key nor an aggregate", "", -1, -1, NULL, NULL},
    {"SELECT g, count(*) FROM t GROUP BY 2", "GROUP BY an aggregate column", "", -1, -1, NULL,
     NULL},
    {"SELECT g, count(*) FROM t GROUP BY 3", "GROUP BY a key not in the select list", "", -1,
     -1, NULL, NULL},
    {"SELECT g, count(*) FROM t GROUP BY ROLLUP (g)", "GROUPING SETS, ROLLUP or CUBE", "", -1,
     -1, NULL, NULL},
    {"SELECT g, count(*) FROM t GROUP BY GROUPING SETS ((g), ())",
     "GROUPING SETS, ROLLUP or CUBE", "", -1, -1, NULL, NULL},
    {"SELECT g, h, count(*) FROM t GROUP BY CUBE (g, h)", "GROUPING SETS, ROLLUP or CUBE", "",
     -1, -1, NULL, NULL},
    {"SELECT g, count(*) FROM t GROUP BY g HAVING count(*) > 1", "HAVING", "", -1, -1, NULL,
     NULL},
    {"SELECT DISTINCT g, count(*) FROM t GROUP BY g", "DISTINCT with GROUP BY or aggregates", "",
     -1, -1, NULL, NULL},
    {"SELECT *, count(*) FROM t GROUP BY g", "SELECT * with GROUP BY", "", -1, -1, NULL, NULL},
    {"SELECT g, count(*) + 1 FROM t GROUP BY g", "a column that is not a plain aggregate", "",
     -1, -1, NULL, NULL},
    {"SELECT g, count(*) FROM t GROUP BY g ORDER BY max(x)",
     "ORDER BY an expression not in the select list", "", -1, -1, NULL, NULL},
    {"SELECT g, row_number() OVER () FROM t GROUP BY g", "window function", "", -1, -1, NULL,
     NULL},
    {"SELECT g, count(*) FROM t GROUP BY g; SELECT 1", "several statements", "", -1, -1, NULL,
     NULL},
    /* only concatenation */
    {"SELECT count(*) FROM t HAVING count(*) > 1", "HAVING", "", -1, -1, NULL, NULL},
    {"SELECT DISTINCT a FROM t ORDER BY a", NULL, "0al", -1, -1, "g:n", NULL},
    {"SELECT DISTINCT ON (a) a, b FROM t", "DISTINCT ON", "", -1, -1, NULL, NULL},
    {"SELECT a, row_number() OVER (ORDER BY a) FROM t", "window function", "", -1, -1, NULL,
     NULL},
    {"SELECT sum(x) OVER () FROM t", "window function", "", -1, -1, NULL, NULL},
    {"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY 1", "UNION, INTERSECT or EXCEPT", "",
     -1, -1, NULL, NULL},
    {"SELECT a FROM t EXCEPT SELECT a FROM u", "UNION, INTERSECT or EXCEPT", "", -1, -1, NULL,
     NULL},
    {"SELECT * FROM t ORDER BY a + 1", "ORDER BY a column of SELECT *", "", -1, -1, NULL,
     NULL},
    {"SELECT t.* FROM t JOIN u ON t.a = u.a ORDER BY u.a", "ORDER BY a column of SELECT *", "",
     -1, -1, NULL, NULL},
    {"SELECT * FROM t JOIN u USING (a) ORDER BY t.a", "ORDER BY a column of SELECT *", "", -1,
     -1, NULL, NULL},
    {"SELECT * FROM t NATURAL JOIN u ORDER BY u.a", "ORDER BY a column of SELECT *", "", -1,
     -1, NULL, NULL},
    {"SELECT * FROM (t JOIN u USING (a)) JOIN v ON true ORDER BY a COLLATE \"C\"",
     "ORDER BY a column of SELECT *", "", -1, -1, NULL, NULL},
    {"SELECT t.*, 1 AS x FROM t ORDER BY a COLLATE \"C\"", "ORDER BY a column of SELECT *",
     "", -1, -1, NULL, NULL},
    {"SELECT * FROM t ORDER BY s.t.a", "ORDER BY a column of SELECT *", "", -1, -1, NULL,
     NULL},
    {"SELECT a FROM t ORDER BY b", "ORDER BY an expression not in the select list", "", -1,
     -1, NULL, NULL},
    {"SELECT a + 1 FROM t ORDER BY a + 2", "ORDER BY an expression not in the select list",
     "", -1, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY 2", "ORDER BY a constant that is not an output column position",
     "", -1, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY a USING >", "ORDER BY ... USING an operator", "", -1, -1, NULL,
     NULL},
    {"SELECT a FROM t ORDER BY a; SELECT b FROM u", "several statements", "", -1, -1, NULL,
     NULL},
    {"SELECT a FROM t; SELECT count(*) FROM u", "several statements", "", -1, -1, NULL, NULL},
    {"SELECT a FROM t; SELECT b FROM u LIMIT 1", "several statements", "", -1, -1, NULL, NULL},
    /* several statements that need nothing but concatenation: no notice */
    {"SELECT a FROM t; SELECT b FROM u", NULL, "", -1, -1, NULL, NULL},
    {"UPDATE t SET a = 1; SELECT b FROM u", NULL, "", -1, -1, NULL, NULL},
    {"BEGIN; SELECT b FROM u; COMMIT", NULL, "", -1, -1, NULL, NULL},
    {"SELEC a FROM t", "does not parse", "", -1, -1, NULL, NULL},
    {"SELECT a FROM t ORDER BY", "does not parse", "", -1, -1, NULL, NULL},
};

/* The keys of p in the case table's notation. */
static void
keys_text(const pgr_merge_plan_t *p, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->n_keys && n < cap; i++) {
        const pgr_sort_key_t *k = &p->keys[i];
        if (k->column >= 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s%d", i ? " " : "", k->column);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s[%s]", i ? " " : "", k->name);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%c%c", k->desc ? 'd' : 'a',
                                  k->nulls_first ? 'f' : 'l');
        if (n < cap && k->collation[0])
            n += (size_t)snprintf(buf + n, cap - n, "/%s", k->collation);
    }
}

static void
aggs_text(const pgr_merge_plan_t *p, char *buf, size_t cap)
{
    static const char letters[] = { [PGR_AGG_NONE] = 'n', [PGR_AGG_COUNT] = 'c',
                                    [PGR_AGG_SUM] = 's', [PGR_AGG_MIN] = 'm',
                                    [PGR_AGG_MAX] = 'M' };
    int i = 0;
    for (; i < p->n_aggs && (size_t)i + 1 < cap; i++)
        buf[i] = letters[p->aggs[i]];
    buf[i] = '\0';
}

TEST(plan_table)
{
    for (size_t i = 0; i < PGR_ARRAY_LEN(cases); i++) {
        const plan_case_t *c = &cases[i];
        pgr_merge_plan_t p;
        char *rw = (char *)1;
        int rc = pgr_classify_merge_plan(c->sql, strlen(c->sql), &p, &rw);
        CHECK_INT(rc, 0);
        if (rc != 0)
            continue;
        if (c->why != NULL || p.unsupported != NULL) {
            CHECK_STR(p.unsupported ? p.unsupported : "(supported)", c->why ? c->why : "(supported)");
            if ((p.unsupported == NULL) != (c->why == NULL) ||
                (c->why && strcmp(p.unsupported, c->why) != 0))
                printf("# in: %s\n", c->sql);
            CHECK(rw == NULL);
            free(rw);
            continue;
        }
        char keys[128], aggs[PGR_MERGE_MAX_AGGS + 1];
        keys_text(&p, keys, sizeof(keys));
        aggs_text(&p, aggs, sizeof(aggs));
        bool group = c->aggs != NULL && strncmp(c->aggs, "g:", 2) == 0;
        const char *want_aggs = c->aggs == NULL ? "" : group ? c->aggs + 2 : c->aggs;
        bool ok = strcmp(keys, c->keys) == 0 && p.limit == c->limit && p.offset == c->offset &&
                  p.aggregate == (c->aggs != NULL && !group) && p.group == group &&
                  strcmp(aggs, want_aggs) == 0 &&
                  (rw == NULL) == (c->rewritten == NULL) &&
                  (rw == NULL || strcmp(rw, c->rewritten) == 0);
        if (!ok)
            printf("# in: %s\n#   got keys \"%s\" limit %lld offset %lld aggs \"%s\" rw %s\n",
                   c->sql, keys, (long long)p.limit, (long long)p.offset, aggs,
                   rw ? rw : "(null)");
        CHECK_STR(keys, c->keys);
        CHECK(p.limit == c->limit);
        CHECK(p.offset == c->offset);
        CHECK(p.aggregate == (c->aggs != NULL && !group));
        CHECK(p.group == group);
        CHECK_STR(aggs, want_aggs);
        CHECK_STR(rw ? rw : "(null)", c->rewritten ? c->rewritten : "(null)");
        free(rw);
    }
}

/* A NUL inside the text, and a statement long enough to be planned on the private stack. */
TEST(odd_inputs)
{
    pgr_merge_plan_t p;
    char *rw = NULL;
    CHECK_INT(pgr_classify_merge_plan("SELECT 1\0 ORDER BY 1", 20, &p, &rw), 0);
    CHECK_STR(p.unsupported ? p.unsupported : "", "does not parse");
    CHECK(rw == NULL);

    size_t cap = 20000, n = 0;
    char *big = malloc(cap);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    n += (size_t)snprintf(big + n, cap - n, "SELECT a, b");
    while (n < cap - 200)
        n += (size_t)snprintf(big + n, cap - n, ", c%zu", n);
    n += (size_t)snprintf(big + n, cap - n, " FROM t ORDER BY b DESC LIMIT 7 OFFSET 3");
    CHECK_INT(pgr_classify_merge_plan(big, n, &p, &rw), 0);
    CHECK(p.unsupported == NULL);
    CHECK_INT(p.n_keys, 1);
    CHECK_INT(p.keys[0].column, 1);
    CHECK(p.keys[0].desc && p.keys[0].nulls_first);
    CHECK(p.limit == 7 && p.offset == 3);
    CHECK(rw != NULL && strstr(rw, "LIMIT 10") != NULL && strstr(rw, "OFFSET") == NULL);
    free(rw);
    free(big);
}

int
main(void)
{
    int rc = RUN(plan_table, odd_inputs);
    pgr_classify_shutdown();
    return rc;
}
